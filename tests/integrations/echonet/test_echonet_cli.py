"""`homehub sim echonet` as a user runs it: a process that serves until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from integrations.echonet.cli import register
from integrations.echonet.frame import Eoj, Esv, Property
from integrations.echonet.protocol import EchonetClient
from integrations.echonet.transport import free_addresses

NODE = "127.0.36.50"
PEER = "127.0.36.51"
LAUNCH = """
import argparse, sys
from integrations.echonet.cli import register
parser = argparse.ArgumentParser(prog="homehub sim")
register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def test_register_adds_the_subcommand() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["echonet", "--bind", "127.0.0.9", "--objects", "meter"])
    assert (args.bind, args.objects) == ("127.0.0.9", "meter")
    assert callable(args.func)
    bad = parser.parse_args(["echonet", "--objects", "toaster"])
    assert bad.func(bad) == 2


async def test_sim_serves_until_interrupted() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LAUNCH, "echonet", "--bind", NODE, "--objects", "aircon,light",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    client = EchonetClient(bind=PEER, timeout_s=2, retries=2)
    await client.start()
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert f"listening on {NODE}:3610" in line
        assert "light 029001" in line
        answer = await client.request(NODE, Eoj(0x02, 0x90, 0x01), Esv.GET, [Property(0x80)])
        assert answer is not None
        assert answer.esv is Esv.GET_RES
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await client.close()


async def test_a_second_node_on_a_taken_address_refuses_to_start() -> None:
    node, peer = free_addresses(2, "127.0.36.60")
    argv = [sys.executable, "-c", LAUNCH, "echonet", "--bind", node, "--objects", "light"]
    first = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    client = EchonetClient(bind=peer, timeout_s=2, retries=2)
    await client.start()
    try:
        assert first.stdout is not None
        assert "listening" in (await asyncio.wait_for(first.stdout.readline(), 30)).decode()
        second = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1
        assert out.decode().endswith(
            f"{node}:3610 is already in use (another ECHONET Lite node or controller); "
            "give this node its own address, e.g. --bind 127.0.0.2\n"
        )
        # The first node still gets its requests (the second did not steal them).
        answer = await client.request(node, Eoj(0x02, 0x90, 0x01), Esv.GET, [Property(0x80)])
        assert answer is not None and answer.esv is Esv.GET_RES
        assert first.returncode is None
    finally:
        first.kill()
        await first.wait()
        await client.close()
