"""Data files are the owner's only, and device secrets stay out of the API (issue 12, point 11)."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import stat
import sys
from pathlib import Path

import pytest
from hub_process import VIRTUAL_CONFIG, start_hub

from hub.model import DiscoveredDevice
from hub.testing import running_hub
from integrations.esphome import EsphomeEmulator, EsphomeIntegration
from integrations.esphome.link import device_id_for

ESPHOME_HOST = "127.0.0.45"


def _umask_022() -> None:
    os.umask(0o022)  # what most systems give a service by default


def _loose(folder: Path) -> list[str]:
    """Every path under `folder` (itself included) that group or others can use."""
    found = []
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink() and path.stat().st_mode & 0o077:
            found.append(f"{path} {stat.S_IMODE(path.stat().st_mode):04o}")
    return found


def _loosen(folder: Path) -> None:
    """A data folder as an older version left it: 0755 with a 0644 file."""
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    (folder / "notes.txt").write_text("left by an older version")
    (folder / "notes.txt").chmod(0o644)


def _database_bytes(folder: Path) -> bytes:
    """The hub's database and its journal, as bytes on disk."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob("homehub.db*")))


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


async def test_hub_process_keeps_its_data_folder_private(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    _loosen(data)
    (data / "homehub.toml").write_text(VIRTUAL_CONFIG)
    proc, _url = await start_hub(data, preexec_fn=_umask_022)
    try:
        await asyncio.sleep(1.0)  # the database, its journal and the identity are written
        assert (data / "homehub.db").exists()
        assert _loose(data) == []
    finally:
        await _stop(proc)
    assert _loose(data) == []


async def test_relay_process_keeps_its_data_folder_private(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    _loosen(data)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "serve", "--data-dir", str(data),
        "--host", "127.0.0.1", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        preexec_fn=_umask_022,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            assert line, "the relay exited before serving"
            if re.search(r"relay listening on", line):
                break
        assert (data / "relay.db").exists()
        assert _loose(data) == []
    finally:
        await _stop(proc)


async def test_esphome_noise_key_is_kept_private_and_out_of_the_api(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    dev = EsphomeEmulator("secret-node", bind=ESPHOME_HOST, port=0, noise_psk=key)
    await dev.start()
    device_id = device_id_for(dev.mac)
    found = DiscoveredDevice(
        key=f"esphome-{dev.mac_hex}", integration="esphome", name="Secret node",
        address=ESPHOME_HOST, port=dev.port, properties={"mac": dev.mac_hex},
    )  # fmt: skip
    try:
        async with running_hub(tmp_path, [EsphomeIntegration()]) as rh:
            await rh.hub.wait_integrations()
            await rh.hub.registry.discovered(found)
            r = await rh.client.post(
                f"/api/v1/discovered/{found.key}/adopt", json={"options": {"noise_psk": key}}
            )
            assert r.status_code in (200, 201, 202), r.text
            body = (await rh.client.get(f"/api/v1/devices/{device_id}")).text
            assert device_id in body
            for path in ("/api/v1/devices", f"/api/v1/devices/{device_id}"):
                assert key not in (await rh.client.get(path)).text
            secrets = tmp_path / "integrations" / "esphome" / "node_secrets.json"
            assert key in secrets.read_text()
            assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        stored = await asyncio.to_thread(_database_bytes, tmp_path)
        assert key.encode() not in stored
        # After a restart the node comes back encrypted, with the key from the secrets file.
        async with running_hub(tmp_path, [EsphomeIntegration()]) as rh:
            await rh.hub.wait_integrations()
            for _ in range(200):
                r = await rh.client.get(f"/api/v1/devices/{device_id}")
                if r.status_code == 200 and r.json()["online"]:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"the encrypted node did not come back: {r.text}")
            assert key not in r.text
    finally:
        await dev.stop()
