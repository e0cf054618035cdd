"""The lean tunnel path (relay/lean_tunnel.py) and the aiohttp route behave the same to a hub.

A raw client built on websockets' sans-I/O ClientProtocol drives the endpoint frame by frame:
WebSocket pings, a fragmented auth message, binary frames, bad UTF-8, and plain HTTP requests
that must still get the relay's JSON answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from relay_testkit import RELAY_HOST, eventually, relay_config, running_relay
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.uri import parse_uri

from relay import RelayServer
from relay import protocol as p
from relay.tunnel import CLOSE_PROTOCOL


class RawHub:
    """A hub tunnel spoken frame by frame (websockets' ClientProtocol, no framework)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str):
        self.reader, self.writer = reader, writer
        self.ws = ClientProtocol(parse_uri(url))
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = p.b64(raw)
        self.hub_id = p.hub_id_for(raw)
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, relay: RelayServer) -> RawHub:
        reader, writer = await asyncio.open_connection(RELAY_HOST, relay.port)
        hub = cls(reader, writer, f"ws://{RELAY_HOST}:{relay.port}/v1/hub/connect")
        hub.ws.send_request(hub.ws.connect())
        await hub.flush()
        while hub.ws.handshake_exc is None and hub.ws.state.name == "CONNECTING":
            await hub.feed()
        assert hub.ws.handshake_exc is None, hub.ws.handshake_exc
        return hub

    async def flush(self) -> None:
        for chunk in self.ws.data_to_send():
            if chunk:
                self.writer.write(chunk)
        await self.writer.drain()

    async def feed(self) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), 10)
        if data:
            self.ws.receive_data(data)
        else:
            self.ws.receive_eof()
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                self.frames.append(event)
        await self.flush()

    async def next_frame(self) -> Frame:
        while not self.frames:
            await self.feed()
        return self.frames.pop(0)

    async def next_message(self) -> p.Message:
        frame = await self.next_frame()
        assert frame.opcode is Opcode.TEXT, frame
        return p.decode(bytes(frame.data).decode())

    def auth_text(self, nonce: str) -> str:
        sig = self.key.sign(p.auth_payload(nonce, self.public))
        return p.encode(p.Auth(self.public, p.b64(sig), "raw-hub", "raw hub"))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture(params=[True, False], ids=["lean", "aiohttp"])
async def relay(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelayServer]:
    async with running_relay(tmp_path / "relay", lean_tunnels=request.param) as server:
        yield server


async def test_signed_in_hub_answers_requests_with_pings_and_fragments(relay: RelayServer) -> None:
    hub = await RawHub.open(relay)
    try:
        challenge = await hub.next_message()
        assert isinstance(challenge, p.Challenge)
        # A WebSocket ping is answered by the protocol, before any message of ours.
        hub.ws.send_ping(b"are you there")
        await hub.flush()
        pong = await hub.next_frame()
        assert (pong.opcode, bytes(pong.data)) == (Opcode.PONG, b"are you there")
        # The auth message in three fragments is one message to the relay.
        text = hub.auth_text(challenge.nonce).encode()
        third = len(text) // 3
        hub.ws.send_text(text[:third], fin=False)
        hub.ws.send_continuation(text[third : 2 * third], fin=False)
        hub.ws.send_continuation(text[2 * third :], fin=True)
        await hub.flush()
        welcome = await hub.next_message()
        assert isinstance(welcome, p.Welcome)
        assert welcome.hub_id == hub.hub_id
        # The relay proxies a request and gets our answer back.
        call = asyncio.create_task(
            relay.routing.call(hub.hub_id, p.Request(0, "GET", "/api/v1/health"), timeout=10)
        )
        request = await hub.next_message()
        assert isinstance(request, p.Request)
        hub.ws.send_text(p.encode(p.Response(request.id, 200, {"ok": True})).encode())
        # An application heartbeat is answered with its timestamp.
        hub.ws.send_text(p.encode(p.Ping(12.5)).encode())
        await hub.flush()
        response = await call
        assert response.status == 200
        assert response.body == {"ok": True}
        pong_msg = await hub.next_message()
        assert isinstance(pong_msg, p.Pong)
        assert pong_msg.ts == 12.5
        # Closing from the hub's side ends the session on the relay.
        hub.ws.send_close(1000, "bye")
        await hub.flush()
        await eventually(lambda: hub.hub_id not in relay.tunnels.sessions, what="session gone")
    finally:
        await hub.close()


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"\x00\x01", CLOSE_PROTOCOL), ("bad utf-8", 1007)],
    ids=["binary", "bad-utf8"],
)
async def test_binary_or_broken_frames_close_the_tunnel_with_a_code(
    relay: RelayServer, payload: bytes | str, code: int
) -> None:
    hub = await RawHub.open(relay)
    try:
        challenge = await hub.next_message()
        assert isinstance(challenge, p.Challenge)
        hub.ws.send_text(hub.auth_text(challenge.nonce).encode())
        await hub.flush()
        assert isinstance(await hub.next_message(), p.Welcome)
        if isinstance(payload, bytes):
            hub.ws.send_binary(payload)
        else:
            hub.ws.send_frame(Frame(Opcode.TEXT, b"\xff\xfe broken"))
        await hub.flush()
        while True:
            frame = await hub.next_frame()
            if frame.opcode is Opcode.CLOSE:
                break
        assert Close.parse(bytes(frame.data)).code == code
        await eventually(lambda: hub.hub_id not in relay.tunnels.sessions, what="session gone")
    finally:
        await hub.close()


async def test_plain_requests_to_the_tunnel_endpoint_get_json_answers(relay: RelayServer) -> None:
    url = f"http://{RELAY_HOST}:{relay.port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        # Not an upgrade: aiohttp's route answers (a JSON error), as without the lean path.
        r = await http.get("/v1/hub/connect")
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/json")
        # Other routes on the same connection and on new ones are served as before.
        assert (await http.get("/v1/health")).status_code == 200
        assert (await http.get("/v1/hub/connectx")).status_code == 404
    # A draining node refuses upgrades with a JSON 503 and a Retry-After.
    relay.tunnels.draining = True
    reader, writer = await asyncio.open_connection(RELAY_HOST, relay.port)
    try:
        ws = ClientProtocol(parse_uri(f"ws://{RELAY_HOST}:{relay.port}/v1/hub/connect"))
        ws.send_request(ws.connect())
        for chunk in ws.data_to_send():
            writer.write(chunk)
        raw = await asyncio.wait_for(reader.read(), 10)  # the relay closes after answering
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), head
        assert b"retry-after:" in head.lower()
        assert json.loads(body)["error"]["message"].startswith("this relay node is shutting down")
    finally:
        relay.tunnels.draining = False
        writer.close()


async def test_silent_and_trickling_connections_are_cut_at_the_deadline(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay", lean_tunnels=True, request_head_s=0.5) as relay:
        loop = asyncio.get_running_loop()
        # Silent: connects and sends nothing.
        silent = await asyncio.open_connection(RELAY_HOST, relay.port)
        # Trickling: a tunnel upgrade request that never ends, a header every 0.2 s.
        trickle = await asyncio.open_connection(RELAY_HOST, relay.port)
        trickle[1].write(b"GET /v1/hub/connect HTTP/1.1\r\nHost: relay\r\n")
        t0 = loop.time()

        async def keep_trickling() -> None:
            for n in range(100):
                await asyncio.sleep(0.2)
                trickle[1].write(f"X-Slow-{n}: 1\r\n".encode())

        trickler = asyncio.create_task(keep_trickling())
        try:
            for reader, _ in (silent, trickle):
                async with asyncio.timeout(10):
                    assert await reader.read() == b""  # the relay closed it, answering nothing
            assert loop.time() - t0 < 5, "cut at the deadline, not when the client gave up"
        finally:
            trickler.cancel()
            for _, writer in (silent, trickle):
                writer.close()
        # A hub that sends its request in time still gets its tunnel.
        hub = await RawHub.open(relay)
        await hub.close()


async def test_idle_lean_tunnels_hold_no_task_and_still_end_cleanly(tmp_path: Path) -> None:
    """A signed-in lean tunnel is served from its socket's callbacks: no task while idle, a
    short one per message; its ending (detach, hub_offline) runs on a close from the hub and
    when the node stops, as it did when every tunnel was a task."""

    def tunnel_tasks() -> list[str]:
        return [
            t.get_name()
            for t in asyncio.all_tasks()
            if t.get_name().startswith("relay-tunnel") and not t.done()
        ]

    # Heartbeats far apart: the tunnels stay idle (not cut as silent) for the whole test.
    server = RelayServer(relay_config(tmp_path / "relay", lean_tunnels=True, heartbeat_s=60.0))
    await server.start()
    hubs: list[RawHub] = []
    try:
        for _ in range(3):
            hub = await RawHub.open(server)
            challenge = await hub.next_message()
            assert isinstance(challenge, p.Challenge)
            hub.ws.send_text(hub.auth_text(challenge.nonce).encode())
            await hub.flush()
            assert isinstance(await hub.next_message(), p.Welcome)
            hubs.append(hub)
        await eventually(lambda: len(server.tunnels.sessions) == 3, what="three tunnels")
        await eventually(lambda: not tunnel_tasks(), what="no task per idle tunnel")
        assert len(server.tunnels.sessions) == 3
        subs = {hub.hub_id: server.routing.subscribe(hub.hub_id) for hub in hubs}
        # Messages are still handled in order, each heartbeat answered with its timestamp.
        first = hubs[0]
        for ts in (1.0, 2.0, 3.0):
            first.ws.send_text(p.encode(p.Ping(ts)).encode())
        await first.flush()
        for ts in (1.0, 2.0, 3.0):
            pong = await first.next_message()
            assert isinstance(pong, p.Pong)
            assert pong.ts == ts
        await eventually(lambda: not tunnel_tasks(), what="idle again after the pings")
        # A close from the hub ends its session: detached, and phones are told.
        first.ws.send_close(1000, "bye")
        await first.flush()
        await eventually(lambda: first.hub_id not in server.tunnels.sessions, what="ended")
        assert not await server.routing.is_online(first.hub_id)
        assert await _offline(subs[first.hub_id])
    finally:
        await server.stop()  # the other two never answer the close: cut, then ended
    for hub in hubs[1:]:
        assert hub.hub_id not in server.tunnels.sessions
        assert await _offline(subs[hub.hub_id])
    for hub in hubs:
        await hub.close()


async def _offline(sub: Any) -> bool:
    async with asyncio.timeout(10):
        while True:
            event = await sub.get()
            if event.get("type") == "hub_offline":
                return True
