"""The relay's end of one hub tunnel: handshake, request multiplexing, heartbeats, limits."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import WSMsgType
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relay import protocol as p
from relay.config import RelayConfig
from relay.errors import HubBusy, HubOffline, HubTimeout

_LOG = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 5.0  # a hub signs in milliseconds; silence longer is not a hub
CLOSE_REPLACED = 4000
CLOSE_AUTH = 4001
CLOSE_PROTOCOL = 4002
CLOSE_SILENT = 4003


class TunnelMessage(Protocol):
    """A received WebSocket message (aiohttp's WSMessage, or relay.lean_tunnel's)."""

    @property
    def type(self) -> WSMsgType: ...

    @property
    def data(self) -> Any: ...


class TunnelSocket(Protocol):
    """What a tunnel needs of its WebSocket: aiohttp's WebSocketResponse (the aiohttp
    route) or relay.lean_tunnel.LeanTunnel (the lean path most hubs take)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...

    async def receive(self, timeout: float | None = None) -> TunnelMessage: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


class SessionState(enum.Enum):
    """Where a hub session is in its life."""

    HANDSHAKE = "handshake"  # challenge sent, waiting for a signed answer
    ONLINE = "online"  # attached to routing, serving requests
    DRAINING = "draining"  # told to reconnect elsewhere; closing
    CLOSED = "closed"  # gone


class HandshakeFailed(Exception):
    """The peer did not prove a hub identity; `code`/`reason` go into the close frame."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def handshake(
    ws: TunnelSocket, limit: int, timeout: float = HANDSHAKE_TIMEOUT_S
) -> tuple[p.Auth, bytes, str]:
    """Challenge the peer; returns (its auth message, raw public key, relay hub id)."""
    nonce = secrets.token_urlsafe(24)
    await ws.send_str(p.encode(p.Challenge(nonce)))
    try:
        msg = await ws.receive(timeout=timeout)
    except TimeoutError:
        raise HandshakeFailed(CLOSE_AUTH, f"no auth frame within {timeout:g} s") from None
    if msg.type != WSMsgType.TEXT:
        raise HandshakeFailed(CLOSE_AUTH, "expected an auth frame")
    try:
        auth = p.decode(msg.data, limit)
    except p.ProtocolError as err:
        raise HandshakeFailed(CLOSE_PROTOCOL, str(err)) from None
    if not isinstance(auth, p.Auth):
        raise HandshakeFailed(CLOSE_AUTH, f"expected auth, got {auth.t}")
    if auth.version != p.PROTOCOL_VERSION:
        raise HandshakeFailed(
            CLOSE_PROTOCOL, f"protocol version {auth.version} unsupported; update the hub"
        )
    try:
        raw = p.unb64(auth.public_key)
        key = Ed25519PublicKey.from_public_bytes(raw)
        key.verify(p.unb64(auth.signature), p.auth_payload(nonce, auth.public_key))
    except (p.ProtocolError, ValueError, InvalidSignature):
        raise HandshakeFailed(CLOSE_AUTH, "bad hub signature") from None
    return auth, raw, p.hub_id_for(raw)


class HubSession:
    """One authenticated tunnel; `call()` sends a request and waits for its response."""

    # 20k of these live in one process; slots keep each one small.
    __slots__ = (
        "_next_id",
        "_pending",
        "config",
        "connected_at",
        "hub_id",
        "last_rx",
        "name",
        "state",
        "ws",
    )

    def __init__(
        self, config: RelayConfig, ws: TunnelSocket, hub_id: str, name: str
    ) -> None:
        self.config = config
        self.ws = ws
        self.hub_id = hub_id
        self.name = name
        self.state = SessionState.HANDSHAKE
        self.last_rx = time.monotonic()
        self.connected_at = time.time()
        self._pending: dict[int, asyncio.Future[p.Response]] = {}
        self._next_id = 0

    async def send(self, message: p.Message) -> None:
        """Send one frame; a dead socket surfaces as HubOffline."""
        if self.ws.closed:
            raise HubOffline("the hub's tunnel just closed; retry in a moment")
        try:
            await self.ws.send_str(p.encode(message))
        except (ConnectionError, RuntimeError) as err:
            raise HubOffline(f"the hub's tunnel broke ({err}); retry in a moment") from err

    async def call(self, request: p.Request, timeout: float) -> p.Response:
        """Proxy one request; 503 when too many are in flight, 504 after `timeout`."""
        if self.state is not SessionState.ONLINE:
            raise HubOffline("the hub is reconnecting; retry in a moment")
        limit = self.config.max_in_flight
        if len(self._pending) >= limit:
            raise HubBusy(f"the hub already has {limit} requests in flight; retry shortly")
        self._next_id += 1
        rid = self._next_id
        fut: asyncio.Future[p.Response] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            async with asyncio.timeout(timeout):
                await self.send(
                    p.Request(
                        rid,
                        request.method,
                        request.path,
                        request.query,
                        request.headers,
                        request.body,
                        request.principal,
                    )
                )
                return await fut
        except TimeoutError:
            raise HubTimeout(
                f"the hub did not answer within {timeout:g} s; it may be busy or on a slow link"
            ) from None
        finally:
            self._pending.pop(rid, None)

    async def close(self, code: int, reason: str) -> None:
        """Close the tunnel with a reason the hub logs."""
        self.state = SessionState.CLOSED
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=reason.encode()[:120])

    async def run(self, on_message: Callable[[HubSession, p.Message], Awaitable[None]]) -> None:
        """Read frames until the tunnel closes."""
        try:
            while await self.handle(await self.ws.receive(), on_message):
                pass
        finally:
            self.ended()

    async def handle(
        self,
        msg: TunnelMessage,
        on_message: Callable[[HubSession, p.Message], Awaitable[None]],
    ) -> bool:
        """Act on one received WebSocket message; False when the tunnel is done.

        `run()` calls it in a loop; the lean path (relay/lean_tunnel.py) calls it from a
        short task only while messages wait, so an idle tunnel has no task at all.
        """
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            return False
        if msg.type == WSMsgType.ERROR:
            return False
        self.last_rx = time.monotonic()
        if msg.type == WSMsgType.TEXT:
            try:
                message = p.decode(msg.data, self.config.max_frame_bytes)
            except p.FrameTooLarge as err:
                _LOG.warning("hub %s sent an oversized frame: %s", self.hub_id, err)
                await self.close(p.CLOSE_TOO_BIG, f"{err}; split the data")
                return False
            except p.ProtocolError as err:
                await self.close(CLOSE_PROTOCOL, str(err))
                return False
            del msg  # an idle tunnel's frame keeps neither the last frame nor its message
            await self._dispatch(message, on_message)
        elif msg.type == WSMsgType.BINARY:
            await self.close(CLOSE_PROTOCOL, "binary frames are not part of the protocol")
            return False
        return True

    def ended(self) -> None:
        """The tunnel is gone: fail the requests still waiting for an answer."""
        self.state = SessionState.CLOSED
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(HubOffline("the hub disconnected before answering"))

    async def _dispatch(
        self,
        message: p.Message,
        on_message: Callable[[HubSession, p.Message], Awaitable[None]],
    ) -> None:
        if isinstance(message, p.Response):
            fut = self._pending.get(message.id)
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif isinstance(message, p.Ping):
            await self.send(p.Pong(message.ts))
        elif isinstance(message, p.Pong):
            pass
        else:
            await on_message(self, message)
