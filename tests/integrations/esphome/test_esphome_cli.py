"""`homehub sim esphome` as a process: it serves the real client and stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from aioesphomeapi.client import APIClient

ROOT = Path(__file__).resolve().parents[3]
HOST = "127.0.0.43"

LAUNCH = """
import argparse, sys
from integrations.esphome.cli import register
parser = argparse.ArgumentParser(prog="homehub sim")
register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def test_sim_esphome_serves_until_interrupted() -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "esphome", "--bind", HOST, "--port", str(port),
        "--name", "cli-node", "--entities", "sensor", "--no-mdns",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert f"{HOST}:{port}" in banner
        assert "plaintext" in banner
        cli = APIClient(HOST, port, None)
        await cli.connect(login=True)
        info = await cli.device_info()
        entities, _ = await cli.list_entities_services()
        await cli.disconnect()
        assert info.name == "cli-node"
        assert [e.object_id for e in entities] == ["temperature", "humidity", "relay"]
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sim_esphome_rejects_a_bad_key() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "esphome", "--bind", HOST, "--port", "1",
        "--noise-key", "not-a-key", "--no-mdns",
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert b"32 bytes in base64" in out
