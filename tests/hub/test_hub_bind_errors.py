"""A process that cannot listen stops at once with one line saying why (issue 12, point 10)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]
RELAY = [sys.executable, "-m", "relay"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback TCP port some other program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


async def _run(*cmd: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{cmd[2:4]} kept running although it cannot listen") from None
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _commands(data: Path, port: str) -> list[list[str]]:
    return [
        [*HOMEHUB, "hub", "--data-dir", str(data / "hub"), "--host", "127.0.0.1",
         "--port", port, "--no-mdns"],
        [*RELAY, "serve", "--data-dir", str(data / "relay"), "--host", "127.0.0.1",
         "--port", port],
        [*HOMEHUB, "sim", "esphome", "--bind", "127.0.0.1", "--port", port, "--no-mdns"],
    ]  # fmt: skip


async def test_taken_port_exits_non_zero_with_one_line(tmp_path: Path, taken_port: int) -> None:
    for cmd in _commands(tmp_path, str(taken_port)):
        code, out = await _run(*cmd)
        assert code != 0, out
        assert "Traceback" not in out, out
        assert f"127.0.0.1:{taken_port}" in out, out
        assert "in use" in out, out


async def test_port_out_of_range_is_refused_without_a_traceback(tmp_path: Path) -> None:
    for cmd in _commands(tmp_path, "99999"):
        code, out = await _run(*cmd)
        assert code == 2, out
        assert "Traceback" not in out, out
        assert "99999 is not a port number" in out, out
