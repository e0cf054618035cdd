"""A backup taken while commands and rule timers run restores to a hub that has every
acknowledged command, rule, timer, IR code and token (real hub, real SQLite, the Broadlink
emulator on loopback, the real rule engine)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import uuid
from pathlib import Path

import httpx
from backup_env import BLASTER_ADDR, T0, home

from hub.backup import apply_pending_restore, stage_restore
from hub.events import BackupProgress
from integrations.broadlink.captures import nec_packet
from integrations.broadlink.emulator import BroadlinkEmulator

GUARD_RULE = {
    "id": "heater_guard",
    "triggers": [
        {"type": "state", "device": "heater", "property": "power", "to": True, "for": "30m"}
    ],
    "actions": [{"type": "set", "device": "heater", "values": {"power": False}}],
}
EVENING_RULE = {
    "id": "evening",
    "triggers": [{"type": "event", "name": "dusk"}],
    "actions": [
        {"type": "delay", "for": "2h"},
        {"type": "set", "device": "lamp", "values": {"power": False}},
    ],
}


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


async def wait_for(check, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_backup_while_running_restores_everything_acknowledged(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator(BLASTER_ADDR, port=0, name="Shelf RM4")
    await emulator.start()
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    try:
        async with home(old_dir, emulator) as h:
            # IR code learned on the old hub, a second paired client, two rules with timers.
            await h.broadlink.save_learned("tv", "mute", nec_packet(0x04, 0x08))
            _, phone_token = await h.rh.hub.auth.create_token("phone")
            for rule in (GUARD_RULE, EVENING_RULE):
                r = await h.client.post("/api/v1/rules", json=rule)
                assert r.status_code == 201, r.text
            await h.virtual.sense("heater", {"power": True})
            r = await h.client.post("/api/v1/events/dusk", json={})
            assert r.status_code == 202

            async def timers_armed() -> bool:
                got = rows(old_dir / "homehub.db", "SELECT rule_id FROM rule_timers")
                return {r[0] for r in got} == {"heater_guard", "evening"}

            await wait_for(timers_armed, what="both rules' timers in the database")
            events: list[BackupProgress] = []
            h.rh.hub.bus.subscribe(events.append, [BackupProgress])

            acked: list[tuple[str, float]] = []  # (command id, when its 202 arrived)
            stop = asyncio.Event()

            async def keep_commanding() -> None:
                level = 0
                while not stop.is_set():
                    level = (level + 7) % 100
                    r = await h.client.put(
                        "/api/v1/devices/lamp/desired",
                        json={"values": {"brightness": level}},
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
                    assert r.status_code == 202, r.text
                    acked.append((r.json()["command_id"], asyncio.get_running_loop().time()))
                    await h.virtual.sense("heater", {"temperature": 18 + level / 10})

            writer = asyncio.create_task(keep_commanding())
            await wait_for(lambda: _true(len(acked) >= 20), what="commands before the backup")
            asked_at = asyncio.get_running_loop().time()
            acked_before = {cid for cid, t in acked if t <= asked_at}
            r = await h.client.post("/api/v1/backups", json={"wait": True, "offsite": False})
            assert r.status_code == 201, r.text
            done_at = asyncio.get_running_loop().time()
            result = r.json()
            stop.set()
            await writer
            # Writes went on while the snapshot was taken (else this proves little).
            assert any(asked_at < t < done_at for _, t in acked)
            archive = Path(result["file"])
            assert result["state"] == "succeeded"
            assert result["contents"]["rules"] == 2 and result["contents"]["rule_timers"] >= 2
            assert [e.state for e in events][-1] == "succeeded"
            assert {"snapshot", "archive"} <= {e.phase for e in events}
            status = (await h.client.get("/api/v1/backups/status")).json()
            assert status["last"]["id"] == result["id"] and status["state"] == "idle"
            listed = (await h.client.get("/api/v1/backups")).json()["backups"]
            assert [b["id"] for b in listed] == [result["id"]]
            old_hub_id = h.rh.hub.hub_id
            old_token = h.rh.token
            old_timers = rows(old_dir / "homehub.db", "SELECT id, due FROM rule_timers")
        identity = (
            (old_dir / "relay_identity.key").read_bytes()
            if (old_dir / "relay_identity.key").exists()
            else None
        )

        # A new machine: an empty data folder, the archive copied over.
        copy = tmp_path / "moved.tar.zst"
        await asyncio.to_thread(shutil.copyfile, archive, copy)
        manifest = await asyncio.to_thread(stage_restore, copy, new_dir)
        assert manifest.id == result["id"]
        await asyncio.to_thread(apply_pending_restore, new_dir)  # what the hub's start does
        # The same durable timers, due at the same times.
        restored_timers = rows(new_dir / "homehub.db", "SELECT id, due FROM rule_timers")
        assert sorted(restored_timers) == sorted(old_timers)
        emulator.sent.clear()
        # The heater is still on when the new hub meets it.
        async with home(new_dir, emulator, values={"heater": {"power": True}}) as h2:
            assert h2.rh.hub.hub_id == old_hub_id
            restored_cmds = {r[0] for r in rows(new_dir / "homehub.db", "SELECT id FROM commands")}
            missing = acked_before - restored_cmds
            assert not missing, f"{len(missing)} acknowledged commands lost"
            assert restored_cmds <= {cid for cid, _ in acked}
            rules = (await h2.client.get("/api/v1/rules")).json()["rules"]
            assert {r["id"] for r in rules} == {"heater_guard", "evening"}
            # The tokens of the old hub's clients work on the new one.
            for token in (old_token, phone_token):
                async with httpx.AsyncClient(base_url=h2.rh.url) as c:
                    r = await c.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
                    assert r.status_code == 200, r.text
            # The learned IR code reaches the blaster from the new hub.
            r = await h2.client.post("/api/v1/devices/tv/commands/mute", json={})
            assert r.status_code == 202, r.text

            async def sent() -> bool:
                return bool(emulator.sent)

            await wait_for(sent, what="the learned code at the blaster")
            assert emulator.sent[-1][:4] == nec_packet(0x04, 0x08)[:4]
            # The durable timer fires on the new hub at its original due time.
            await h2.clock.set(T0 + 31 * 60)

            async def guard_ran() -> bool:
                return any(t["result"] == "done" for t in h2.engine.traces("heater_guard"))

            await wait_for(guard_ran, what="the restored for-timer to fire")
        if identity is not None:
            assert (new_dir / "relay_identity.key").read_bytes() == identity
    finally:
        await emulator.stop()


async def _true(value: bool) -> bool:
    return value


async def test_restore_through_the_api_restarts_the_hub_with_the_backup(tmp_path: Path) -> None:
    emulator = BroadlinkEmulator(BLASTER_ADDR, port=0, name="Shelf RM4")
    await emulator.start()
    data = tmp_path / "hub"
    try:
        async with home(data, emulator) as h:
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            assert r.status_code == 201, r.text
            backup_id = r.json()["id"]
            # Changes after the backup: a rule, a renamed device.
            r = await h.client.post("/api/v1/rules", json=GUARD_RULE)
            assert r.status_code == 201
            r = await h.client.patch("/api/v1/devices/lamp", json={"name": "Renamed"})
            assert r.status_code == 200
            bad = await h.client.post("/api/v1/backups/nope/restore", json={})
            assert bad.status_code == 404
            r = await h.client.post(f"/api/v1/backups/{backup_id}/restore", json={})
            assert r.status_code == 202, r.text
            assert r.json()["restarting"] is True

            async def restart_asked() -> bool:
                return h.rh.hub.restart_requested.is_set()

            await wait_for(restart_asked, what="the hub to ask for a restart")
        # What run_hub does on a restart request: a new hub on the same folder.
        async with home(data, emulator) as h2:
            rules = (await h2.client.get("/api/v1/rules")).json()["rules"]
            assert rules == []
            lamp = (await h2.client.get("/api/v1/devices/lamp")).json()
            assert lamp["name"] != "Renamed"
            backups = (await h2.client.get("/api/v1/backups")).json()["backups"]
            assert [b["id"] for b in backups] == [backup_id], "archives survive a restore"
        befores = list(data.glob(".before-restore-*"))
        assert len(befores) == 1 and (befores[0] / "homehub.db").is_file()
    finally:
        with contextlib.suppress(Exception):
            await emulator.stop()
