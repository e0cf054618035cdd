"""Unauthenticated upgrades and control links never starve authenticated hubs (issue 12, point 1).

Everything runs against a real relay on loopback: the flood is raw sockets that complete the
WebSocket upgrade and then say nothing (or sign in as a control link and stay), from several
loopback source addresses, the way an attacker with a few machines would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from pathlib import Path

import aiohttp
from relay_testkit import eventually, running_relay

from hub.relay_link import HubIdentity, TunnelClient
from relay import protocol as p

FLOOD_HOSTS = [f"127.0.6.{n}" for n in range(20, 28)]


class _Quiet:
    """A tunnel handler that only finishes the resync."""

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        await client.send(p.ResyncDone(()))

    async def on_request(self, request: p.Request) -> p.Response:
        return p.Response(request.id, 200, {})

    def on_disconnected(self) -> None:
        pass


async def _bare_upgrade(
    host: str, port: int, source: str, forwarded_for: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """Open a WebSocket upgrade to the tunnel endpoint and say nothing after it."""
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /v1/hub/connect HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + (f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else "")
            + "\r\n"
        ).encode()
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    return reader, writer, int(status_line.split()[1])


async def _hold_upgrades(host: str, port: int, per_source: int) -> list[asyncio.StreamWriter]:
    held: list[asyncio.StreamWriter] = []
    results = await asyncio.gather(
        *(_bare_upgrade(host, port, src) for src in FLOOD_HOSTS for _ in range(per_source)),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, tuple):
            held.append(result[1])
    return held


async def _control_link(
    session: aiohttp.ClientSession, url: str
) -> aiohttp.ClientWebSocketResponse | None:
    """Sign in as a control link with a fresh key and keep the link open; None if refused."""
    ws = await session.ws_connect(url)
    challenge = p.decode(await ws.receive_str())
    assert isinstance(challenge, p.Challenge)
    auth = HubIdentity.generate().auth(challenge.nonce, "", "", p.PURPOSE_CONTROL)
    await ws.send_str(p.encode(auth))
    msg = await ws.receive()
    if msg.type != aiohttp.WSMsgType.TEXT:
        return None
    return ws


async def _connect_hubs(url: str, count: int, within: float) -> int:
    clients = [TunnelClient(url, HubIdentity.generate(), _Quiet()) for _ in range(count)]
    for client in clients:
        client.start()
    try:
        results = await asyncio.gather(
            *(client.wait_connected(within) for client in clients), return_exceptions=True
        )
        return sum(1 for r in results if not isinstance(r, BaseException))
    finally:
        await asyncio.gather(*(client.stop() for client in clients))


async def test_held_bare_upgrades_do_not_shut_out_new_hubs(tmp_path: Path) -> None:
    async with running_relay(
        tmp_path / "relay",
        max_handshakes=16,
        max_pending=64,
        pending_per_address=12,
        handshake_timeout_s=30.0,  # the flood is not simply timed out here: budgets must hold
    ) as relay:
        host, port = relay.config.host, relay.port
        held = await _hold_upgrades(host, port, per_source=20)
        try:
            # Each address holds at most its share; in all no more than the pending budget.
            assert len(relay.tunnels.pending) <= 64
            assert relay.tunnels.pending.refused >= len(FLOOD_HOSTS) * (20 - 12)
            t0 = time.monotonic()
            assert await _connect_hubs(relay.url, 20, within=10.0) == 20
            assert time.monotonic() - t0 < 10.0
            assert relay.tunnels.pending.evicted > 0  # the flood lost its own oldest places
        finally:
            for writer in held:
                writer.close()


async def test_silent_upgrade_is_cut_at_the_handshake_deadline(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay", handshake_timeout_s=1.0) as relay:
        reader, writer, status = await _bare_upgrade(relay.config.host, relay.port, FLOOD_HOSTS[0])
        assert status == 101
        t0 = time.monotonic()
        with contextlib.suppress(ConnectionError):
            while await asyncio.wait_for(reader.read(4096), 10):
                pass  # the challenge, then the close frame, then EOF
        assert time.monotonic() - t0 < 4.0
        await eventually(lambda: len(relay.tunnels.pending) == 0, what="pending emptied")
        writer.close()


async def test_held_control_links_do_not_shut_out_new_hubs(tmp_path: Path) -> None:
    async with (
        running_relay(
            tmp_path / "relay",
            max_handshakes=16,
            max_control_links=8,
            control_per_address=3,
            control_link_s=2.0,
        ) as relay,
        aiohttp.ClientSession() as session,
    ):
        links = await asyncio.gather(
            *(_control_link(session, relay.tunnel_url) for _ in range(40)),
            return_exceptions=True,  # some are refused at the upgrade already (503)
        )
        kept = [ws for ws in links if isinstance(ws, aiohttp.ClientWebSocketResponse)]
        # All from one address: only its share is held, and the rest were told why.
        assert len(kept) == 3
        assert await _connect_hubs(relay.url, 20, within=10.0) == 20
        # Control links do not live on: the relay closes them after their deadline.
        for ws in kept:
            msg = await asyncio.wait_for(ws.receive(), 10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await eventually(lambda: len(relay.tunnels.control) == 0, what="control links gone")
        # And a place frees up again for the CLI.
        again = await _control_link(session, relay.tunnel_url)
        assert again is not None
        await again.close()


async def test_behind_a_trusted_proxy_limits_count_the_forwarded_client(tmp_path: Path) -> None:
    proxy = FLOOD_HOSTS[0]
    async with running_relay(
        tmp_path / "relay", pending_per_address=3, trusted_proxies=(f"{proxy}/32",)
    ) as relay:
        host, port = relay.config.host, relay.port
        held: list[asyncio.StreamWriter] = []  # open until the end: each holds its place

        async def statuses(source: str, forwarded: str, count: int) -> list[int]:
            got = [await _bare_upgrade(host, port, source, forwarded) for _ in range(count)]
            held.extend(writer for _, writer, _ in got)
            return [status for _, _, status in got]

        # Through the trusted proxy: one client is held to its share, another is not.
        assert await statuses(proxy, "203.0.113.7", 4) == [101, 101, 101, 503]
        assert await statuses(proxy, "203.0.113.8", 2) == [101, 101]
        # From an untrusted peer the header is ignored: the peer's own address counts.
        other = FLOOD_HOSTS[5]
        assert await statuses(other, "203.0.113.9", 4) == [101, 101, 101, 503]
        assert await statuses(other, "203.0.113.10", 1) == [503]
        for writer in held:
            writer.close()


async def test_login_limit_behind_a_trusted_proxy_counts_each_client(tmp_path: Path) -> None:
    # Behind a load balancer every log-in came from the balancer: one guesser's wrong
    # passwords used up the limit of every phone behind it (429 for the real owner).
    proxy = FLOOD_HOSTS[0]
    async with running_relay(
        tmp_path / "relay", login_rate=0.001, login_burst=2, trusted_proxies=(f"{proxy}/32",)
    ) as relay:
        url = f"http://{relay.config.host}:{relay.port}/v1/sessions"
        wrong = {"email": "nobody@example.org", "password": "not it"}

        async def log_in(source: str, forwarded: str) -> int:
            connector = aiohttp.TCPConnector(local_addr=(source, 0))
            async with aiohttp.ClientSession(connector=connector) as http:
                headers = {"X-Forwarded-For": forwarded}
                async with http.post(url, json=wrong, headers=headers) as r:
                    return r.status

        guesser = [await log_in(proxy, "203.0.113.7") for _ in range(3)]
        assert guesser == [401, 401, 429]
        assert await log_in(proxy, "203.0.113.8") == 401  # another phone: its own limit
        # An untrusted peer cannot pick an address to dodge its limit with the header.
        other = FLOOD_HOSTS[5]
        assert [await log_in(other, f"198.51.100.{n}") for n in range(3)] == [401, 401, 429]
