"""Scheduled backups: first one soon after start, then every interval, keeping N; progress and
results reach the events WebSocket and GET /backups/status."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from backup_env import T0, home

from hub.backup.service import FIRST_DELAY_S
from integrations.broadlink.emulator import BroadlinkEmulator

DAY = 86400.0


async def until(check: Any, timeout: float = 15.0, what: str = "") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.02)


async def test_daily_backups_keep_the_newest_n(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator("127.0.0.120", port=0)
    await emulator.start()
    try:
        async with home(tmp_path, emulator, backup_interval_h=24.0, backup_keep=2) as h:
            status = (await h.client.get("/api/v1/backups/status")).json()
            assert status["next_due"] == T0 + FIRST_DELAY_S
            assert status["state"] == "idle" and status["last"] is None
            seen: list[dict[str, Any]] = []
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(
                    f"{h.rh.url}/api/v1/events?types=backup&token={h.rh.token}"
                ) as ws,
            ):
                assert (await ws.receive_json())["type"] == "hello"

                async def collect() -> None:
                    async for msg in ws:
                        seen.append(json.loads(msg.data))

                reader = asyncio.create_task(collect())

                async def scheduled() -> list[dict[str, Any]]:
                    got = (await h.client.get("/api/v1/backups")).json()["backups"]
                    return [b for b in got if b["reason"] == "scheduled"]

                made: list[str] = []
                for day in range(4):
                    await h.clock.set(T0 + FIRST_DELAY_S + day * DAY)

                    async def one_more(n: int = day + 1) -> bool:
                        status = (await h.client.get("/api/v1/backups/status")).json()
                        last = status["last"] or {}
                        return (
                            status["state"] == "idle"
                            and len(made) < n
                            and last.get("id") not in made
                            and last.get("state") == "succeeded"
                        )

                    await until(one_more, what=f"scheduled backup of day {day}")
                    made.append((await h.client.get("/api/v1/backups/status")).json()["last"]["id"])
                kept = await scheduled()
                assert [b["id"] for b in kept] == made[::-1][:2], "the newest two are kept"
                status = (await h.client.get("/api/v1/backups/status")).json()
                assert status["next_due"] == T0 + FIRST_DELAY_S + 4 * DAY
                assert status["last"]["reason"] == "scheduled"

                async def results() -> bool:
                    return sum(e["state"] == "succeeded" for e in seen) >= 4

                await until(results, what="four 'succeeded' events on the WebSocket")
                reader.cancel()
            assert all(e["type"] == "backup" for e in seen)
            assert {e["phase"] for e in seen} >= {"snapshot", "files", "archive"}
            progress = [e["progress"] for e in seen if e["backup_id"] == made[-1]]
            assert progress == sorted(progress) and progress[-1] == 1.0
    finally:
        await emulator.stop()


async def test_a_failed_backup_says_why_and_is_retried(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator("127.0.0.121", port=0)
    await emulator.start()
    try:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the backups folder should be")
        async with home(
            tmp_path / "data", emulator, backup_interval_h=24.0, backup_dir=blocker
        ) as h:
            await h.clock.set(T0 + FIRST_DELAY_S)

            async def failed() -> dict[str, Any] | None:
                last = (await h.client.get("/api/v1/backups/status")).json()["last"]
                return last if last and last["state"] == "failed" else None

            last = await until(failed, what="the failure in the status")
            assert "not-a-folder" in last["message"] and "[backup] dir" in last["message"]

            async def retry_planned() -> bool:
                status = (await h.client.get("/api/v1/backups/status")).json()
                return bool(status["next_due"] == T0 + FIRST_DELAY_S + 3600)

            await until(retry_planned, what="a retry an hour later")
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            assert r.status_code >= 400 and r.json()["error"]["message"]
    finally:
        await emulator.stop()
