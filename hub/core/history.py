"""History of numeric properties: a recorder fed by the event bus, retention and downsampling.

Raw samples are kept `raw_days`; older ones are folded into fixed buckets (min/max/avg/count)
kept `rollup_days`. Queries read both, so a long range still answers after raw data is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from hub.clock import Clock
from hub.errors import Invalid
from hub.events import EventBus, StateChanged
from hub.store import Database

_LOG = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
FLUSH_AT = 2000  # samples: a burst is written at once rather than waiting for the tick
MAX_BUFFER = 50_000  # the disk is not keeping up: beyond this the oldest samples go
MAX_POINTS = 5000
DAY = 86400.0


class HistoryRecorder:
    """Buffers numeric state changes and writes them in batches."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        *,
        raw_days: float = 7.0,
        rollup_days: float = 365.0,
        bucket_s: int = 300,
    ) -> None:
        self.db = db
        self.clock = clock
        self.raw_days = raw_days
        self.rollup_days = rollup_days
        self.bucket_s = bucket_s
        self._buffer: list[tuple[str, str, float, float]] = []
        self._unsubscribe = bus.subscribe(self._on_state, [StateChanged])
        self._task: asyncio.Task[None] | None = None
        # The write under way (periodic, or early for a burst): one at a time, never cancelled
        # (its samples are out of the buffer while it runs), and stop() lets it land.
        self._writing: asyncio.Task[None] | None = None
        self.dropped = 0  # samples given up because the disk did not keep up

    def _on_state(self, event: StateChanged) -> None:
        for key, value in event.changes.items():
            kind = type(value)  # the usual two first: every state change comes through here
            if kind is not float and (kind is bool or not isinstance(value, int | float)):
                continue
            self._buffer.append((event.device, key, event.ts, float(value)))
        if len(self._buffer) < FLUSH_AT:
            return
        if self._task is not None:
            self._write_soon()
        self._cap()

    def _cap(self) -> None:
        if len(self._buffer) > MAX_BUFFER:
            # The disk is not keeping up; keep the newest samples rather than grow.
            excess = len(self._buffer) - MAX_BUFFER
            del self._buffer[:excess]
            self.dropped += excess

    async def start(self) -> None:
        """Begin periodic flushing and maintenance."""
        self._task = asyncio.create_task(self._loop(), name="history")

    async def stop(self) -> None:
        """Flush and stop."""
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writing is not None:
            await self._writing  # a write under way: let it land (it logs its errors)
        await self.flush()

    async def flush(self) -> None:
        """Write buffered samples."""
        if not self._buffer:
            return
        rows, self._buffer = self._buffer, []
        try:
            await self.db.executemany(
                "INSERT INTO history(device_id, prop, ts, value) VALUES(?,?,?,?)", rows
            )
        except Exception:
            self._buffer[:0] = rows  # kept, in order, for the next try
            self._cap()
            raise

    def _write_soon(self) -> asyncio.Task[None]:
        """The write under way, or a new one."""
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(
                self._flush_logged(), name="history-write"
            )
        return self._writing

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:
            _LOG.exception("history write failed; samples kept for the next try")

    async def _loop(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            # Shielded: stopping cancels this loop, and a write cancelled half way would lose
            # the samples it took out of the buffer.
            await asyncio.shield(self._write_soon())
            ticks += 1
            if ticks % 600 == 1:  # roll up every ten minutes (and once at start)
                try:
                    await self.compact()
                except Exception:
                    _LOG.exception("history roll-up failed; will retry")

    async def compact(self) -> None:
        """Fold raw samples older than the raw retention into buckets; drop expired buckets."""
        now = self.clock.now()
        cutoff = now - self.raw_days * DAY
        b = float(self.bucket_s)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO history_rollup(device_id, prop, bucket, n, vmin, vmax, vavg) "
                "SELECT device_id, prop, CAST(ts / ? AS INTEGER) * ?, COUNT(*), MIN(value), "
                "MAX(value), AVG(value) FROM history WHERE ts < ? "
                "GROUP BY device_id, prop, CAST(ts / ? AS INTEGER) "
                "ON CONFLICT(device_id, prop, bucket) DO UPDATE SET "
                "vavg=(vavg*n + excluded.vavg*excluded.n)/(n+excluded.n), n=n+excluded.n, "
                "vmin=MIN(vmin, excluded.vmin), vmax=MAX(vmax, excluded.vmax)",
                (b, b, cutoff, b),
            )
            await conn.execute("DELETE FROM history WHERE ts < ?", (cutoff,))
            await conn.execute(
                "DELETE FROM history_rollup WHERE bucket < ?", (now - self.rollup_days * DAY,)
            )

    async def query(
        self,
        device_id: str,
        prop: str,
        start: float,
        end: float,
        resolution: float | None = None,
    ) -> list[dict[str, Any]]:
        """Samples in [start, end]; with a resolution, one averaged point per bucket."""
        if end < start:
            raise Invalid("end must not be before start")
        await self.flush()
        if not resolution:
            rows = await self.db.fetchall(
                "SELECT ts, value, value, value FROM history WHERE device_id=? AND prop=? "
                "AND ts BETWEEN ? AND ? UNION ALL "
                "SELECT bucket, vavg, vmin, vmax FROM history_rollup WHERE device_id=? AND prop=? "
                "AND bucket BETWEEN ? AND ? ORDER BY 1 LIMIT ?",
                (device_id, prop, start, end, device_id, prop, start, end, MAX_POINTS + 1),
            )
        else:
            if resolution < 1:
                raise Invalid("resolution must be at least 1 second")
            if (end - start) / resolution > MAX_POINTS:
                raise Invalid(
                    f"that range at {resolution:g} s resolution is over {MAX_POINTS} points; "
                    "use a coarser resolution"
                )
            r = float(resolution)
            rows = await self.db.fetchall(
                "SELECT CAST(t / ? AS INTEGER) * ? AS b, SUM(v * n) / SUM(n), MIN(lo), MAX(hi) "
                "FROM (SELECT ts AS t, value AS v, 1 AS n, value AS lo, value AS hi FROM history "
                "WHERE device_id=? AND prop=? AND ts BETWEEN ? AND ? UNION ALL "
                "SELECT bucket, vavg, n, vmin, vmax FROM history_rollup WHERE device_id=? "
                "AND prop=? AND bucket BETWEEN ? AND ?) GROUP BY b ORDER BY b",
                (r, r, device_id, prop, start, end, device_id, prop, start, end),
            )
        if len(rows) > MAX_POINTS:
            raise Invalid(f"over {MAX_POINTS} samples in that range; give a resolution")
        return [{"ts": t, "value": v, "min": lo, "max": hi} for t, v, lo, hi in rows]
