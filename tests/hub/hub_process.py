"""Start the real `homehub hub` command as a subprocess (crash and fuzz tests)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]
VIRTUAL_CONFIG = """
[api]
advertise = false
[integrations.virtual]
"""


async def create_token(data_dir: Path, name: str = "test") -> str:
    """A token made with `homehub token create` (the database is created if needed)."""
    proc = await asyncio.create_subprocess_exec(
        *HOMEHUB,
        "token",
        "create",
        name,
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
    )
    out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    return out.split()[1]


async def start_hub(data_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    """Run `homehub hub` on a free loopback port; return the process and its base URL."""
    proc = await asyncio.create_subprocess_exec(
        *HOMEHUB,
        "hub",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        seen.append(line)
        assert line, "hub exited before serving:\n" + "".join(seen)
        m = re.search(r"serving (http://\S+)/api/v1", line)
        if m:
            break
    # Keep draining its output so a full pipe never blocks the hub.
    asyncio.get_running_loop().create_task(_drain(proc.stdout))
    return proc, m.group(1)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
