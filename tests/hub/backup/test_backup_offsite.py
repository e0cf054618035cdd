"""Off-site backups through the relay: ciphertext only, a quota per account, and a new machine
that restores with nothing but the recovery key and takes over the old hub's identity, so the
demo account's claim and the phone's session reach it (real relay, real hub, real SQLite)."""

from __future__ import annotations

import asyncio
import base64
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest
from backup_env import BLASTER_ADDR, SECRET_NAMES, home

from hub.backup import RecoveryKey
from hub.backup.offsite import list_vault
from hub.relay_link import RelayLink, claim_for_demo
from integrations.broadlink.captures import nec_packet
from integrations.broadlink.emulator import BroadlinkEmulator
from relay import RelayConfig, RelayServer
from relay import protocol as p

RULE = {
    "id": SECRET_NAMES[3],
    "triggers": [{"type": "state", "device": "heater", "property": "power", "to": True}],
    "actions": [{"type": "set", "device": "lamp", "values": {"power": True}}],
}
LEARNED = nec_packet(0x2A, 0x5C)


def relay_files_hold(folder: Path, needles: list[bytes]) -> list[str]:
    """Which needles occur in any file under the relay's folder (database, WAL, anything)."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{n!r} in {path.name}" for n in needles if n in data]
    return found


async def test_offsite_backup_and_a_new_machine_taking_over(tmp_path: Path) -> None:
    relay = RelayServer(RelayConfig(data_dir=tmp_path / "relay", port=0))
    await relay.start()
    emulator = BroadlinkEmulator(BLASTER_ADDR, port=0, name="Shelf RM4")
    await emulator.start()
    old_dir, new_dir = tmp_path / "old-machine", tmp_path / "new-machine"
    try:
        link = RelayLink(relay.url)
        async with home(old_dir, emulator, extra=(link,), relay_url=relay.url) as h:
            demo = await claim_for_demo(link, relay)
            r = await h.client.post("/api/v1/backups/recovery-key", json={})
            assert r.status_code == 201, r.text
            words = " ".join(r.json()["words"])
            await h.broadlink.save_learned("tv", "input", LEARNED)
            assert (await h.client.post("/api/v1/rules", json=RULE)).status_code == 201
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            assert r.status_code == 201, r.text
            offsite = r.json()["offsite"]
            assert offsite["state"] == "uploaded", offsite
            assert offsite["account_used_bytes"] >= offsite["size_bytes"] > 0
            old_token = h.rh.token
            relay_hub_id = link.client.relay_hub_id  # type: ignore[union-attr]

        # What the relay keeps of the backup: ciphertext only. Rule names and IR codes reach
        # the relay only inside backups: none of its files holds one (database, WAL, anything).
        # Device names and rooms are in its shadow cache by design (phones see the home while
        # the hub is away), so for those the backup's own rows and bytes are what is checked.
        private = [
            SECRET_NAMES[3].encode(),
            LEARNED.hex().encode(),
            base64.b64encode(LEARNED)[:24],
            b"learned.json",
            b"homehub.toml",
        ]
        assert await asyncio.to_thread(relay_files_hold, tmp_path / "relay", private) == []
        conn = sqlite3.connect(tmp_path / "relay" / "relay.db")
        try:
            stored = b"".join(
                bytes(r[0])
                for r in conn.execute("SELECT data FROM backup_chunks ORDER BY object_id, seq")
            )
            rows = repr(conn.execute("SELECT * FROM backups").fetchall()).encode()
        finally:
            conn.close()
        assert stored.startswith(b"age-encryption.org/v1\n")
        assert len(stored) == offsite["size_bytes"]
        for needle in [n.encode() for n in SECRET_NAMES] + private + [b"Nursery", b"virtual"]:
            assert needle not in stored and needle not in rows, needle

        # The old machine dies with its disk.
        await asyncio.to_thread(shutil.rmtree, old_dir)

        # A new machine: the recovery words and the relay's address, nothing else.
        words_file = tmp_path / "words.txt"
        words_file.write_text(words)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli.main",
            "backup",
            "restore",
            "--from-relay",
            relay.url,
            "--key-file",
            str(words_file),
            "--data-dir",
            str(new_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out = (await asyncio.wait_for(proc.communicate(), 120))[0].decode()
        assert proc.returncode == 0, out
        assert "Restored backup" in out, out

        link2 = RelayLink(relay.url)
        async with home(new_dir, emulator, extra=(link2,), relay_url=relay.url) as h2:
            await link2.wait_connected(15)
            assert link2.client.relay_hub_id == relay_hub_id  # type: ignore[union-attr]
            # The demo account still owns it; the phone's session reaches the new hub.
            async with httpx.AsyncClient(
                base_url=relay.url, headers={"Authorization": f"Bearer {demo.token}"}
            ) as phone:
                hubs = (await phone.get("/v1/hubs")).json()["hubs"]
                assert [(x["hub_id"], x["online"]) for x in hubs] == [(relay_hub_id, True)]
                r = await phone.get(f"/v1/hubs/{relay_hub_id}/api/rules")
                assert r.status_code == 200, r.text
                assert [x["id"] for x in r.json()["rules"]] == [SECRET_NAMES[3]]
                r = await phone.post(
                    f"/v1/hubs/{relay_hub_id}/api/devices/tv/commands/input", json={}
                )
                assert r.status_code == 202, r.text
            # A LAN client of the old hub keeps its token.
            async with httpx.AsyncClient(base_url=h2.rh.url) as lan:
                r = await lan.get(
                    "/api/v1/devices", headers={"Authorization": f"Bearer {old_token}"}
                )
                assert r.status_code == 200
            deadline = time.monotonic() + 10
            while not emulator.sent and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert emulator.sent and emulator.sent[-1][:4] == LEARNED[:4]
    finally:
        await emulator.stop()
        await relay.stop()


async def test_quota_claims_and_vault_keys_are_enforced(tmp_path: Path) -> None:
    relay = RelayServer(RelayConfig(data_dir=tmp_path / "relay", port=0, backup_quota_bytes=6000))
    await relay.start()
    emulator = BroadlinkEmulator("127.0.0.122", port=0)
    await emulator.start()
    try:
        link = RelayLink(relay.url)
        async with home(tmp_path / "hub", emulator, extra=(link,), relay_url=relay.url) as h:
            await link.wait_connected(15)
            r = await h.client.post("/api/v1/backups/recovery-key", json={})
            key = RecoveryKey.parse(r.json()["key"])
            # Not claimed yet: the backup stays on the hub, and the reason is given.
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            offsite = r.json()["offsite"]
            assert offsite["state"] == "failed" and "not claimed" in offsite["message"]
            await claim_for_demo(link, relay)
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            first = r.json()
            assert first["offsite"]["state"] == "uploaded", first
            # A second one does not fit the 6,000-byte quota beside the first (the newest
            # copy of a hub is never evicted to make room).
            await h.clock.advance(60)
            r = await h.client.post("/api/v1/backups", json={"wait": True})
            offsite = r.json()["offsite"]
            assert offsite["state"] == "failed", offsite
            assert "quota" in offsite["message"] and "MB" in offsite["message"]
            status = (await h.client.get("/api/v1/backups/status")).json()
            assert status["last"]["offsite"]["state"] == "failed"
            listed = await list_vault(relay.url, key)
            assert [b["backup_id"] for b in listed] == [first["id"]]
            conn = sqlite3.connect(tmp_path / "relay" / "relay.db")
            try:
                pieces = conn.execute("SELECT COUNT(*) FROM backup_chunks").fetchone()[0]
            finally:
                conn.close()
            assert pieces == 1, "the refused upload left nothing behind"
        # Vault requests need a signature by that vault's key, made just now.
        path = f"/v1/backup-vault/{key.vault_id}"
        async with httpx.AsyncClient(base_url=relay.url) as c:
            assert (await c.get(path)).status_code == 401
            other = RecoveryKey.generate().vault_signer()
            ts = int(time.time())
            forged = (
                base64.urlsafe_b64encode(other.sign(p.vault_auth_payload("GET", path, ts)))
                .decode()
                .rstrip("=")
            )
            r = await c.get(path, headers={"Authorization": f"Vault {ts}.{forged}"})
            assert r.status_code == 401 and "recovery key" in r.json()["error"]["message"]
            old = ts - 3600
            stale = (
                base64.urlsafe_b64encode(
                    key.vault_signer().sign(p.vault_auth_payload("GET", path, old))
                )
                .decode()
                .rstrip("=")
            )
            r = await c.get(path, headers={"Authorization": f"Vault {old}.{stale}"})
            assert r.status_code == 401 and "clock" in r.json()["error"]["message"]
    finally:
        await emulator.stop()
        await relay.stop()


@pytest.mark.parametrize("keep", [2])
async def test_the_relay_keeps_the_newest_n_of_a_hub(tmp_path: Path, keep: int) -> None:
    relay = RelayServer(RelayConfig(data_dir=tmp_path / "relay", port=0))
    await relay.start()
    emulator = BroadlinkEmulator("127.0.0.123", port=0)
    await emulator.start()
    try:
        link = RelayLink(relay.url)
        async with home(
            tmp_path / "hub", emulator, extra=(link,), relay_url=relay.url, backup_keep=keep
        ) as h:
            await claim_for_demo(link, relay)
            key = RecoveryKey.parse(
                (await h.client.post("/api/v1/backups/recovery-key", json={})).json()["key"]
            )
            made = []
            for _ in range(3):
                r = await h.client.post("/api/v1/backups", json={"wait": True})
                assert r.json()["offsite"]["state"] == "uploaded", r.text
                made.append(r.json()["id"])
                await h.clock.advance(60)
            listed = await list_vault(relay.url, key)
            assert [b["backup_id"] for b in listed] == made[::-1][:keep]
    finally:
        await emulator.stop()
        await relay.stop()
