"""Start the real `homehub hub` command as a subprocess (crash and fuzz tests)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

from hub.store import Database

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]
VIRTUAL_CONFIG = """
[api]
advertise = false
[integrations.virtual]
"""


async def create_token(data_dir: Path, name: str = "test") -> str:
    """A token made with `homehub token create` in a hub's data folder (made here if new)."""
    db = Database(data_dir / "homehub.db")  # what a hub's first start creates
    await db.open()
    await db.close()
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


async def start_hub(
    data_dir: Path,
    preexec_fn: Callable[[], None] | None = None,
    output: list[str] | None = None,
) -> tuple[asyncio.subprocess.Process, str]:
    """Run `homehub hub` on a free loopback port; return the process and its base URL.

    `preexec_fn` runs in the child before it starts (resource limits); `output`, when given,
    collects every line the hub prints.
    """
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
        preexec_fn=preexec_fn,
    )
    assert proc.stdout is not None
    seen = [] if output is None else output
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        seen.append(line)
        assert line, "hub exited before serving:\n" + "".join(seen)
        m = re.search(r"serving (http://\S+)/api/v1", line)
        if m:
            break
    # Keep draining its output so a full pipe never blocks the hub.
    asyncio.get_running_loop().create_task(_drain(proc.stdout, output))
    return proc, m.group(1)


async def _drain(stream: asyncio.StreamReader, output: list[str] | None) -> None:
    while line := await stream.readline():
        if output is not None:
            output.append(line.decode(errors="replace"))
