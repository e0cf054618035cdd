"""`homehub backup ...` as a person runs it: beside a running hub, restore refused while it
runs, an encrypted archive restored with the words, a wrong key refused with nothing changed."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import httpx
from backup_env import tree_digest

from hub.backup import RecoveryKey

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]


async def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *HOMEHUB,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 120)
    return int(proc.returncode or 0), out.decode()


async def start_hub(data: Path) -> tuple[asyncio.subprocess.Process, str]:
    (data / "homehub.toml").write_text(
        '[hub]\nname = "CLI flat"\n[api]\nadvertise = false\n[backup]\ninterval_hours = 0\n'
    )
    proc = await asyncio.create_subprocess_exec(
        *HOMEHUB,
        "hub",
        "--data-dir",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, "the hub exited before serving"
        if "serving http://" in line:
            url = line.split("serving ")[1].split("/api/v1")[0]
            break

    async def drain() -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    asyncio.get_running_loop().create_task(drain())
    return proc, url


async def test_backup_commands_end_to_end(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rc, out = await run("backup", "key", "--data-dir", str(data))
    assert rc == 2 and "no hub keeps its data" in out, out
    hub, url = await start_hub(data)
    rc, out = await run("token", "create", "laptop", "--data-dir", str(data))
    assert rc == 0, out
    token = next(w for w in out.split() if w.startswith("hh_"))
    try:
        # A backup beside the running hub (online snapshot), and the restore it refuses.
        rc, out = await run("backup", "create", "--data-dir", str(data))
        assert rc == 0 and out.startswith("Backup "), out
        backup_id = out.split()[1].rstrip(":")
        rc, out = await run("backup", "restore", backup_id, "--data-dir", str(data))
        assert rc != 0 and "running hub" in out and "/api/v1/backups" in out, out
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            r = await c.get("/api/v1/backups")
            assert r.status_code == 200, r.text
            listed = r.json()["backups"]
            assert [b["id"] for b in listed] == [backup_id]
            await c.post("/api/v1/events/x", json={})
    finally:
        hub.send_signal(signal.SIGTERM)
        await asyncio.wait_for(hub.wait(), 30)
    rc, out = await run("backup", "list", "--json", "--data-dir", str(data))
    assert rc == 0, out
    assert json.loads(out)["backups"][0]["contents"]["tokens"] == 1

    # The recovery key, an encrypted archive, a wrong key, the right one.
    rc, out = await run("backup", "key", "--data-dir", str(data))
    assert rc == 0, out
    flat = re.findall(r"\b\d{1,2}\. ([a-z]+)", out)
    assert len(flat) == 24, out
    key_string = next(w for w in out.split() if w.startswith("AGE-SECRET-KEY-1"))
    usb = tmp_path / "usb"
    usb.mkdir()
    rc, out = await run(
        "backup", "create", "--encrypt", "--to", str(usb / "hub.tar.zst"), "--data-dir", str(data)
    )
    assert rc == 0, out
    sealed = usb / "hub.tar.zst.age"
    assert sealed.is_file() and not (usb / "hub.tar.zst").exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    before = tree_digest(fresh)
    other = RecoveryKey.generate().identity
    rc, out = await run("backup", "restore", str(sealed), "--data-dir", str(fresh), stdin=other)
    assert rc == 2 and "different recovery key" in out, out
    assert tree_digest(fresh) == before
    words_file = tmp_path / "words.txt"
    words_file.write_text(" ".join(flat))
    rc, out = await run(
        "backup", "restore", str(sealed), "--data-dir", str(fresh), "--key-file", str(words_file)
    )
    assert rc == 0 and "Restored backup" in out, out
    assert (fresh / "homehub.db").is_file() and "CLI flat" in (fresh / "homehub.toml").read_text()
    assert key_string  # the same key as the words, shown for a QR code
