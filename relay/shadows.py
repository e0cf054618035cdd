"""The relay's copy of every hub's device records and shadows, written behind in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.protocol import record_digest
from relay.store import RelayStore

_LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class CachedDevice:
    """One device as last pushed by its hub."""

    version: int
    device: Mapping[str, Any]
    updated: float


class ShadowCache:
    """Per hub: device id -> CachedDevice. Loaded lazily, flushed to SQLite periodically."""

    def __init__(self, store: RelayStore, flush_s: float) -> None:
        self.store = store
        self.flush_s = flush_s
        self._hubs: dict[str, dict[str, CachedDevice]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._gone: set[tuple[str, str]] = set()
        # Hubs gone offline, unloaded at the end of the next write once none of their records
        # is pending: a hub unloaded while a write of its records was under way had nothing
        # left to write again when that write failed. (Writes never overlap: the loop's, then
        # stop()'s after the loop ended.)
        self._unload: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin the write-behind loop."""
        self._task = asyncio.create_task(self._flush_loop(), name="relay-shadow-flush")

    async def stop(self) -> None:
        """Write what is pending and stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def devices(self, hub_id: str) -> dict[str, CachedDevice]:
        """The cached devices of a hub."""
        self._unload.discard(hub_id)  # back online before its pending records were written
        cached = self._hubs.get(hub_id)
        if cached is None:
            rows = await self.store.shadows(hub_id)
            cached = self._hubs.setdefault(
                hub_id, {d: CachedDevice(v, doc, ts) for d, (v, doc, ts) in rows.items()}
            )
        return cached

    async def digests(self, hub_id: str) -> dict[str, str]:
        """device id -> record digest, for the resync handshake."""
        return {
            d: record_digest(c.version, c.device) for d, c in (await self.devices(hub_id)).items()
        }

    async def put(
        self, hub_id: str, device_id: str, version: int, device: Mapping[str, Any], force: bool
    ) -> bool:
        """Store a pushed record unless an older version arrives late (resync forces)."""
        devices = await self.devices(hub_id)
        current = devices.get(device_id)
        if current is not None and not force and version < current.version:
            return False
        devices[device_id] = CachedDevice(version, device, time.time())
        self._dirty.add((hub_id, device_id))
        self._gone.discard((hub_id, device_id))
        return True

    async def remove(self, hub_id: str, device_id: str) -> None:
        """Forget one device."""
        devices = await self.devices(hub_id)
        if devices.pop(device_id, None) is not None:
            self._gone.add((hub_id, device_id))
            self._dirty.discard((hub_id, device_id))

    async def keep_only(self, hub_id: str, device_ids: set[str]) -> None:
        """After a resync: drop devices the hub no longer has."""
        for device_id in [d for d in await self.devices(hub_id) if d not in device_ids]:
            await self.remove(hub_id, device_id)

    def unload(self, hub_id: str) -> None:
        """Free memory for a hub that went offline (its rows stay in SQLite), after the next
        write, once none of its records is waiting to be written."""
        if hub_id in self._hubs:
            self._unload.add(hub_id)  # not checked here: a storm of disconnects, each a scan

    def _unload_written(self) -> None:
        if not self._unload:
            return
        pending = {h for h, _ in self._dirty} | {h for h, _ in self._gone}
        for hub_id in self._unload - pending:
            self._hubs.pop(hub_id, None)
        self._unload &= pending

    async def flush(self) -> None:
        """Write dirty records now."""
        dirty, self._dirty = self._dirty, set()
        gone, self._gone = self._gone, set()
        try:
            upserts = []
            for hub_id, device_id in dirty:
                c = self._hubs.get(hub_id, {}).get(device_id)
                if c is not None:
                    upserts.append((hub_id, device_id, c.version, dict(c.device), c.updated))
            if upserts or gone:
                await self.store.write_shadows(upserts, list(gone))
        except BaseException:
            # Failed, or cancelled (at stop) perhaps after it committed: the next flush writes
            # them again as they are then. What changed meanwhile wins: a device put again is
            # not deleted, one removed again is not written.
            self._dirty |= dirty - self._gone
            self._gone |= gone - self._dirty
            raise
        finally:
            self._unload_written()  # after a failure, what it took is pending again

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self.flush()
            except Exception:
                _LOG.exception("could not write cached shadows; will retry")
