"""Relay nodes as separate processes, HAProxy in front of them, a private Redis, a TCP cut-off.

Addresses: 127.0.9.x (the single-node suites use 127.0.6.x, bench/relay.py 127.0.7.x).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_HOST = "127.0.9.1"
_LISTENING = re.compile(r"relay listening on (http://\S+);")


def free_port(host: str) -> int:
    """A port nobody listens on right now (for programs that cannot report theirs)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    """One `python -m relay serve` process."""

    name: str
    proc: asyncio.subprocess.Process
    url: str
    log: Path

    @property
    def port(self) -> int:
        """Its listening port."""
        return int(self.url.rsplit(":", 1)[1])

    async def health(self) -> int:
        """HTTP status of /v1/health (0 if it does not answer)."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                return (await client.get(self.url + "/v1/health")).status_code
        except httpx.HTTPError:
            return 0

    async def health_body(self) -> dict[str, Any] | None:
        """The /v1/health body while it answers 503, else None."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                r = await client.get(self.url + "/v1/health")
        except httpx.HTTPError:
            return None
        return dict(r.json()) if r.status_code == 503 else None

    def kill(self) -> None:
        """kill -9."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)


async def start_node(
    name: str, data_dir: Path, store_url: str, routing_url: str, prefix: str,
    host: str = CLUSTER_HOST, *extra: str,
) -> Node:
    """Start a relay node process and wait until it listens."""
    os.makedirs(data_dir, exist_ok=True)
    log = data_dir / f"{name}.log"
    port = free_port(host)  # its address must be known up front for --node-url
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "serve", "--host", host, "--port", str(port),
        "--node-url", f"http://{host}:{port}",
        "--data-dir", str(data_dir), "--store", store_url, "--routing", routing_url,
        "--routing-prefix", prefix, "--node-id", name, *extra,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log.open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"node {name} did not start: {log.read_text()[-2000:]}") from None
    match = _LISTENING.search(line.decode())
    if match is None:
        await proc.wait()
        raise AssertionError(f"node {name} did not start: {line!r} {log.read_text()[-2000:]}")
    return Node(name, proc, match.group(1), log)


async def stop_node(node: Node, timeout: float = 15.0) -> None:
    """SIGTERM (drain), then kill if it takes too long."""
    if node.proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            node.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(node.proc.wait(), timeout)
        except TimeoutError:
            node.kill()
            await node.proc.wait()


@contextlib.asynccontextmanager
async def relay_nodes(
    names: Sequence[str], data_dir: Path, store_url: str, routing_url: str, prefix: str,
    *extra: str,
) -> AsyncIterator[list[Node]]:
    """Several nodes of one cluster, stopped on exit."""
    nodes: list[Node] = []
    try:
        for name in names:
            nodes.append(
                await start_node(
                    name, data_dir / name, store_url, routing_url, prefix, CLUSTER_HOST, *extra
                )
            )
        yield nodes
    finally:
        await asyncio.gather(*(stop_node(n) for n in nodes))


def haproxy_binary() -> str:
    """haproxy's path, or skip (tests/.ci/run installs the Debian package)."""
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if found is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy; .ci/run does it)")
    return found


def haproxy_config(bind: tuple[str, int], nodes: Sequence[Node]) -> str:
    """WebSocket-aware HTTP proxy; a node leaves rotation when /v1/health is not 200."""
    servers = "\n".join(
        f"  server {n.name} {n.url.removeprefix('http://')} check" for n in nodes
    )
    return f"""global
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  retries 3
  option redispatch
frontend relay
  bind {bind[0]}:{bind[1]}
  default_backend nodes
backend nodes
  balance leastconn
  option httpchk GET /v1/health
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{servers}
"""


@dataclass
class HAProxy:
    """A running haproxy in front of the nodes."""

    proc: asyncio.subprocess.Process
    url: str


@contextlib.asynccontextmanager
async def haproxy(nodes: Sequence[Node], work: Path, host: str = CLUSTER_HOST
                  ) -> AsyncIterator[HAProxy]:
    """Start haproxy with the nodes as its backend; stopped on exit."""
    binary = haproxy_binary()
    port = free_port(host)
    cfg = work / "haproxy.cfg"
    cfg.write_text(haproxy_config((host, port), nodes))
    proc = await asyncio.create_subprocess_exec(
        binary, "-db", "-f", str(cfg),
        stdout=asyncio.subprocess.DEVNULL, stderr=(work / "haproxy.log").open("wb"),
    )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    if (await client.get(url + "/v1/health")).status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.returncode is not None:
                raise AssertionError(f"haproxy did not serve: {(work / 'haproxy.log').read_text()}")
            await asyncio.sleep(0.1)
        yield HAProxy(proc, url)
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)


@dataclass
class RedisServer:
    """A private redis-server on a free port (to stop and start it under a node)."""

    port: int
    work: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start (again) on the same port and wait until it answers."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.work),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    async def kill(self) -> None:
        """kill -9 (it keeps nothing: presence is gone when it returns)."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def private_redis(work: Path) -> AsyncIterator[RedisServer]:
    """A redis-server of this test's own."""
    server = RedisServer(free_port("127.0.0.1"), work)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


@dataclass
class TcpCutoff:
    """A TCP forwarder that can cut every connection and refuse new ones (a dead link)."""

    target: tuple[str, int]
    host: str = "127.0.0.1"
    port: int = 0
    open: bool = True
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_w}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        self._writers -= {writer, up_w}

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self.open = False
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        """Accept connections again."""
        self.open = True

    async def close(self) -> None:
        """Stop listening."""
        self.cut()
        if self._server is not None:
            self._server.close()
