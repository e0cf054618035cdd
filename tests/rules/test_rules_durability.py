"""Durable timers across real hub processes killed with SIGKILL mid-countdown and mid-reminders.

Time is a file (hub.clock.FileClock via HOMEHUB_CLOCK_FILE) that this test moves; each hub
process reads it. Firings are read back through the API of each process before it is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

T0 = 1_700_000_000.0
SCRIPT = Path(__file__).with_name("rules_hub_proc.py")

RULE = {
    "id": "heater_on",
    "triggers": [
        {"type": "state", "device": "heater", "property": "power", "to": True, "for": "10m"}
    ],
    "actions": [
        {"type": "notify", "message": "heater on for 10 minutes"},
        {"type": "remind", "message": "heater still on", "every": "5m", "max": 3},
    ],
}


# A second rule on the same durable "for" timers marks moments of the clock: once its trace
# for a mark is there, the hub has seen that time and fired whatever was due by then, so "the
# countdown has not fired yet" is checked after a positive signal, not after a fixed sleep.
MARKS = (300.0, 599.0, 3600.0)
MARK_RULE = {
    "id": "marks",
    "triggers": [
        {"type": "state", "device": "heater", "property": "power", "to": True, "for": seconds}
        for seconds in MARKS
    ],
    "actions": [{"type": "notify", "message": "mark"}],
}


class FileTime:
    """Moves the shared clock file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, when: float) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(when))
        os.replace(tmp, self.path)


@asynccontextmanager
async def hub_process(
    data_dir: Path, clock_file: Path, values: dict[str, Any]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, httpx.AsyncClient]]:
    env = {**os.environ, "HOMEHUB_CLOCK_FILE": str(clock_file)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        str(data_dir),
        json.dumps(values),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line, "the hub process exited before serving"
    info = json.loads(line)
    try:
        async with httpx.AsyncClient(
            base_url=info["url"],
            headers={"Authorization": f"Bearer {info['token']}"},
            timeout=10,
        ) as client:
            yield proc, client
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def kill9(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


async def poll(cond: Callable[[], Any], timeout: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await cond()
        if result:
            return result
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def reach(client: httpx.AsyncClient, clock: FileTime, when: float) -> None:
    """Move the clock to `when`, a mark, and wait until the hub has fired that mark."""
    clock.set(when)

    async def marked() -> bool:
        traces = (await client.get("/api/v1/rules/marks/traces")).json()["traces"]
        return any(t.get("trigger", {}).get("ts") == when for t in traces)

    await poll(marked)


class Firings:
    """Every trace seen through any process's API, by run id (a refiring has a new id)."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    async def read(self, client: httpx.AsyncClient) -> None:
        resp = await client.get("/api/v1/rules/heater_on/traces")
        for t in resp.json()["traces"]:
            self.runs[t["run_id"]] = t

    def fired(self) -> list[float]:
        return sorted(
            t["trigger"]["ts"]
            for t in self.runs.values()
            if "trigger" in t and t["result"] == "done"
        )

    def reminders(self) -> list[float]:
        return sorted(
            t["timer"]["due"]
            for t in self.runs.values()
            if t.get("timer", {}).get("kind") == "remind" and t["result"] == "done"
        )


def timer_rows(data_dir: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(data_dir / "homehub.db") as conn:
        rows = conn.execute("SELECT kind, due FROM rule_timers WHERE rule_id = 'heater_on'")
        return sorted((r[0], r[1]) for r in rows)


@pytest.mark.slow
async def test_countdown_and_reminders_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    clock = FileTime(tmp_path / "clock")
    clock.set(T0)
    seen = Firings()

    # Process A: arm the 10-minute countdown, then die at T0+5m.
    async with hub_process(data, clock.path, {}) as (proc, c):
        assert (await c.post("/api/v1/rules", json=RULE)).status_code == 201
        assert (await c.post("/api/v1/rules", json=MARK_RULE)).status_code == 201
        resp = await c.put("/api/v1/devices/heater/desired", json={"values": {"power": True}})
        assert resp.status_code == 202

        async def armed() -> bool:
            return timer_rows(data) == [("for", T0 + 600)]

        await poll(armed)
        await reach(c, clock, T0 + 300)
        await seen.read(c)
        await kill9(proc)
    assert seen.fired() == []

    # Process B: the heater is still on; the countdown keeps its due time (not T0+300+600).
    async with hub_process(data, clock.path, {"heater": {"power": True}}) as (proc, c):
        await reach(c, clock, T0 + 599)
        await seen.read(c)
        assert seen.fired() == []
        clock.set(T0 + 600)

        async def fired() -> bool:
            await seen.read(c)
            return seen.fired() == [T0 + 600]

        await poll(fired)
        clock.set(T0 + 900)

        async def first_reminder() -> bool:
            await seen.read(c)
            return seen.reminders() == [T0 + 900]

        await poll(first_reminder)
        clock.set(T0 + 1000)
        # The countdown's stretch is used up ("held" until the heater goes off), so a restart
        # that sees the heater "turn on" again (its last report lost with the process) does
        # not count down and fire a second time; the next reminder is due.
        await poll(
            lambda: _true(timer_rows(data) == [("held", T0 + 600), ("remind", T0 + 1200)])
        )
        await kill9(proc)

    # Process C: the remaining reminders come at T0+20m and T0+25m, then stop (max 3).
    async with hub_process(data, clock.path, {"heater": {"power": True}}) as (proc, c):
        for due in (T0 + 1200, T0 + 1500):
            clock.set(due)

            async def reminded(due: float = due) -> bool:
                await seen.read(c)
                return seen.reminders()[-1:] == [due]

            await poll(reminded)
        await reach(c, clock, T0 + 3600)
        await seen.read(c)
        assert timer_rows(data) == [("held", T0 + 600)]

    assert seen.fired() == [T0 + 600]
    assert seen.reminders() == [T0 + 900, T0 + 1200, T0 + 1500]


async def _true(value: bool) -> bool:
    return value
