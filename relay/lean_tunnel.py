"""A lean connection path for hub tunnels: `websockets`' sans-I/O protocol on a bare transport.

Why: an idle hub tunnel served by aiohttp's WebSocketResponse costs ~15 KB in this process
(tracemalloc by line across 3,000 idle tunnels): the HTTP parser and request message it keeps
(~3 KB), the request-handler task with its chain of coroutine frames, the WebSocket reader,
writer and data queue. Twenty thousand idle hubs spend most of the relay's memory on that.
Here a tunnel is one asyncio.Protocol (slots) holding one `websockets.server.ServerProtocol`
(a well-kept RFC 6455 implementation that does framing, masking, ping answers and the close
handshake; nothing of the WebSocket is written by hand here).

How it fits: `FrontDoor` is the listening socket's protocol. It looks at the request line of
a connection's first request: `GET /v1/hub/connect` goes to a `LeanTunnel`, everything else
is handed (with the bytes read so far) to aiohttp's own request handler, unchanged. A
LeanTunnel that sees anything but a valid WebSocket upgrade hands the connection to aiohttp
too, so bad requests get the same JSON answers as before. After the upgrade the tunnel runs
the same `HubTunnels.serve()` as the aiohttp route (which stays registered: the OpenAPI
document, and hubs whose first request on a keep-alive connection was something else).
Once signed in and attached, a lean tunnel is `watch()`ed: served from its callbacks, with
no task or coroutine frames while idle (~2 KB of a tunnel's ~6 KB of Python objects), a
short task only while messages wait to be handled.

`LeanTunnel` offers the small part of aiohttp's WebSocketResponse that `HubSession` and the
handshake use: `closed`, `send_str()`, `receive(timeout)`, `close(code=, message=)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import WSMsgType, web
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from relay.errors import RelayError
from relay.http_json import error_body

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from relay import protocol as p
    from relay.admission import Ticket
    from relay.hub_tunnels import HubTunnels
    from relay.tunnel import HubSession

    OnMessage = Callable[[HubSession, p.Message], Awaitable[None]]
    OnEnd = Callable[[HubSession], Awaitable[None]]

PATH = b"/v1/hub/connect"
_PREFIX = b"GET " + PATH
MAX_HANDSHAKE_BYTES = 16 * 1024  # a hub's upgrade request is ~250 bytes
CLOSE_WAIT_S = 2.0  # how long close() waits for the hub's answer (as aiohttp's timeout=2.0)
# websockets logs every connection's open and close at INFO: with thousands of hubs (and
# any flood of upgrades) that drowns the relay's own log. Its warnings still come through.
_WS_LOG = logging.getLogger("relay.lean_tunnel.websockets")
_WS_LOG.setLevel(logging.WARNING)


class WSMessage(NamedTuple):
    """What `receive()` returns: the fields of aiohttp's WSMessage that the tunnel reads."""

    type: WSMsgType
    data: Any
    extra: Any = None


_CLOSED = WSMessage(WSMsgType.CLOSED, None)
HttpFactory = Callable[[], asyncio.Protocol]


class FrontDoor(asyncio.Protocol):
    """Routes a new connection by its first request line: hub tunnel or aiohttp."""

    __slots__ = ("_buf", "_deadline", "_http", "_timer", "_transport", "_tunnels")

    def __init__(self, http: HttpFactory, tunnels: HubTunnels) -> None:
        self._http = http
        self._tunnels = tunnels
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._tunnels.config.request_head_s
        self._timer = loop.call_at(self._deadline, self._too_slow)

    def _too_slow(self) -> None:
        # Nothing routable arrived in time: not a hub, not a browser; free the socket.
        self._timer = None
        if self._transport is not None:
            self._transport.abort()
            self._transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data
        if len(buf) <= len(_PREFIX) and _PREFIX.startswith(buf):
            self._buf = buf  # too little to tell yet
            return
        self._buf = b""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        tunnel = buf.startswith(_PREFIX) and buf[len(_PREFIX) : len(_PREFIX) + 1] in (b" ", b"?")
        proto: asyncio.Protocol = (
            LeanTunnel(self._http, self._tunnels, self._deadline) if tunnel else self._http()
        )
        transport, self._transport = self._transport, None
        assert transport is not None
        transport.set_protocol(proto)
        proto.connection_made(transport)
        proto.data_received(buf)

    def eof_received(self) -> bool | None:
        return None  # closes the transport: nothing was asked


class LeanTunnel(asyncio.Protocol):
    """One hub tunnel on a bare transport; see the module docstring."""

    # 20k of these live in one process; slots keep each one small. Per-message state (the
    # inbox, waiters) is made only while used, so an idle tunnel holds None there. Once
    # `watch()`ed, a tunnel has no task while idle: a message that arrives starts a short one
    # (`_pump`) that hands the waiting messages to its session and ends.
    __slots__ = (
        "_drain",
        "_frag",
        "_http",
        "_inbox",
        "_lost",
        "_on_end",
        "_on_message",
        "_paused",
        "_pumping",
        "_raw",
        "_session",
        "_timer",
        "_transport",
        "_tunnels",
        "_waiter",
        "_ws",
    )

    def __init__(self, http: HttpFactory, tunnels: HubTunnels, deadline: float = 0.0) -> None:
        self._http: HttpFactory | None = http
        # The upgrade request must be complete by `deadline` (loop time; 0: no deadline).
        self._timer: asyncio.TimerHandle | None = (
            asyncio.get_running_loop().call_at(deadline, self._handshake_too_slow)
            if deadline
            else None
        )
        self._tunnels = tunnels
        self._ws = ServerProtocol(max_size=2 * tunnels.config.max_frame_bytes, logger=_WS_LOG)
        self._transport: asyncio.Transport | None = None
        self._raw: bytes | None = b""  # the upgrade request, until it is answered
        self._inbox: list[WSMessage] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._frag: list[bytes] | None = None
        self._paused = False
        self._session: HubSession | None = None  # while watched (see watch())
        self._on_message: OnMessage | None = None
        self._on_end: OnEnd | None = None  # set once watched, and kept
        self._pumping = False

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # As aiohttp does for its connections: small frames (requests, answers, pongs) must
        # not wait for Nagle's algorithm and the peer's delayed ACK.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._raw is not None:
            self._handshake_data(data)
            return
        ws = self._ws
        ws.receive_data(data)
        for frame in ws.events_received():
            if isinstance(frame, Frame):
                self._on_frame(frame.opcode, bytes(frame.data), frame.fin)
        self._after_io()

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._after_io()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        self._transport = None
        self._push(_CLOSED)
        for fut in (self._drain, self._lost):
            if fut is not None and not fut.done():
                fut.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    # ------------------------------------------------------------------ the upgrade
    def _handshake_too_slow(self) -> None:
        self._timer = None
        if self._raw is not None and self._transport is not None:
            self._transport.abort()  # a trickled upgrade request: a socket held, not a hub

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _handshake_data(self, data: bytes) -> None:
        assert self._raw is not None
        self._raw += data
        ws = self._ws
        ws.receive_data(data)
        events = ws.events_received()
        if not events:
            if ws.handshake_exc is not None or len(self._raw) > MAX_HANDSHAKE_BYTES:
                self._to_http()  # not an HTTP request websockets understands: aiohttp answers
            return
        self._stop_timer()  # the request is in; the tunnel's own deadlines take over
        request = events[0]
        assert isinstance(request, Request)
        response = ws.accept(request)
        if response.status_code != 101:
            self._to_http()  # a plain GET, a bad upgrade: the aiohttp route answers as before
            return
        transport = self._transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        forwarded = request.headers.get("X-Forwarded-For", "")
        refusal, ticket = self._tunnels.admit(peer[0] if peer else "?", forwarded, transport.abort)
        if refusal is not None:
            status, message, headers = refusal
            self._raw = None
            answer = ws.reject(status, error_body(status, message))
            del answer.headers["Content-Type"]
            answer.headers["Content-Type"] = "application/json; charset=utf-8"
            for name, value in headers.items():
                answer.headers[name] = value
            ws.send_response(answer)
            self._flush()
            if self._transport is not None:
                self._transport.close()
            return
        assert ticket is not None
        self._raw = None
        self._http = None
        ws.send_response(response)
        # The server protocol's parser generator keeps the upgrade request (headers and all)
        # in its frame for the life of the connection; the frame parser alone does not.
        ws.parser = Protocol.parse(ws)
        next(ws.parser)
        self._flush()
        self._tunnels.spawn(self._serve(ticket), "relay-tunnel")

    async def _serve(self, ticket: Ticket) -> None:
        try:
            await self._tunnels.serve(self, ticket)
        finally:
            # As aiohttp does when a handler returns: the connection ends with its tunnel,
            # also when the node stops and cancels it. A watched tunnel lives on without
            # this task and is closed when it ends (`_ending`).
            if self._on_end is None and self._transport is not None:
                self._transport.close()

    # ------------------------------------------------------------------ served by callbacks
    def watch(self, session: HubSession, on_message: OnMessage, on_end: OnEnd) -> None:
        """Serve the rest of the tunnel from this protocol's callbacks, with no task while
        idle: each message goes to `session.handle(message, on_message)`, in order, from a
        short task that lives while messages wait; at the end (a close, a lost connection,
        a protocol error, `end()`) the session is ended and `on_end(session)` runs."""
        self._session = session
        self._on_message = on_message
        self._on_end = on_end
        if self._inbox:
            self._start_pump()

    def end(self) -> None:
        """End a watched tunnel now (the node stops): its ending runs, then it is closed."""
        if self._session is not None:
            self._finish()

    def _start_pump(self) -> None:
        self._pumping = True
        self._tunnels.spawn(self._pump(), "relay-tunnel")

    async def _pump(self) -> None:
        session, on_message = self._session, self._on_message
        if session is None or on_message is None:
            self._pumping = False
            return
        done = True
        try:
            while self._inbox:
                if not await session.handle(self._pop(), on_message):
                    break
            else:
                done = False  # all handled: idle again (no await since the inbox was empty)
        except (RelayError, ConnectionError):
            pass
        finally:
            self._pumping = False
            if done and self._session is session:
                self._finish()

    def _finish(self) -> None:
        session, self._session = self._session, None
        assert session is not None
        assert self._on_end is not None
        session.ended()
        # Not a task the node's stop() cancels: the ending (routing, hub_offline) must run.
        self._tunnels.spawn(self._ending(session, self._on_end), "relay-tunnel-end", ending=True)

    async def _ending(self, session: HubSession, on_end: OnEnd) -> None:
        try:
            await on_end(session)
        finally:
            if self._transport is not None:
                self._transport.close()

    def _to_http(self) -> None:
        self._stop_timer()
        raw, self._raw = self._raw, None
        transport, http = self._transport, self._http
        self._transport = self._http = None
        assert transport is not None
        assert http is not None
        assert raw is not None
        proto = http()
        transport.set_protocol(proto)
        proto.connection_made(transport)
        proto.data_received(raw)

    # ------------------------------------------------------------------ frames in
    def _on_frame(self, opcode: Opcode, data: bytes, fin: bool) -> None:
        if opcode in (Opcode.TEXT, Opcode.BINARY):
            if not fin:
                self._frag = [bytes([opcode.value]), data]
                return
            self._deliver(opcode, data)
        elif opcode is Opcode.CONT and self._frag is not None:
            self._frag.append(data)
            if fin:
                first, *parts = self._frag
                self._frag = None
                self._deliver(Opcode(first[0]), b"".join(parts))
        elif opcode is Opcode.CLOSE:
            self._push(WSMessage(WSMsgType.CLOSE, self._ws.close_code, self._ws.close_reason))
        # Pings are answered by the protocol itself; pongs need nothing.

    def _deliver(self, opcode: Opcode, data: bytes) -> None:
        if opcode is Opcode.BINARY:
            self._push(WSMessage(WSMsgType.BINARY, data))
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self._ws.fail(1007, "invalid UTF-8 in a text frame")
            return
        self._push(WSMessage(WSMsgType.TEXT, text))

    def _push(self, message: WSMessage) -> None:
        if self._inbox is None:
            self._inbox = [message]
        else:
            self._inbox.append(message)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        elif self._session is not None and not self._pumping:
            self._start_pump()

    def _pop(self) -> WSMessage:
        inbox = self._inbox
        if not inbox:
            return _CLOSED
        message = inbox.pop(0)
        if not inbox:
            self._inbox = None
        return message

    def _after_io(self) -> None:
        """Send what the protocol has to say (pongs, close answers); notice a failed peer."""
        self._flush()
        if self._ws.state is not State.OPEN and self._raw is None:
            # A protocol error or a close: the reader sees the end after what came before.
            self._push(_CLOSED)

    def _flush(self) -> None:
        transport = self._transport
        for chunk in self._ws.data_to_send():
            if transport is None or transport.is_closing():
                return
            if chunk:
                transport.write(chunk)
            else:
                transport.close()  # the protocol's end of stream (after its close frame)

    # ------------------------------------------------------------------ the socket API
    @property
    def closed(self) -> bool:
        """True once a close was sent or received, or the connection is gone."""
        return self._transport is None or self._ws.state is not State.OPEN

    async def send_str(self, data: str) -> None:
        """Send one text frame; waits while the kernel's buffer is full."""
        if self.closed:
            raise ConnectionResetError("the tunnel is closed")
        self._ws.send_text(data.encode())
        self._flush()
        if self._paused and self._transport is not None:
            if self._drain is None:
                self._drain = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drain)

    async def receive(self, timeout: float | None = None) -> WSMessage:
        """The next message; CLOSED once the tunnel is gone; TimeoutError after `timeout`."""
        if not self._inbox:
            if self._transport is None:
                return _CLOSED
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await waiter  # an idle tunnel waits here: no timeout object to keep
                else:
                    async with asyncio.timeout(timeout):
                        await waiter
            finally:
                self._waiter = None
        return self._pop()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Send a close frame with `code` and reason; wait (bounded) for the hub to go."""
        transport = self._transport
        if transport is None:
            return False
        if self._ws.state is State.OPEN:
            self._ws.send_close(code, message.decode(errors="replace"))
            self._flush()
        if self._transport is None:
            return True
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT_S):
                await asyncio.shield(self._lost)
        if self._transport is not None:
            self._transport.abort()  # no answer: a dead or stuck peer
        return True


class LeanSite(web.SockSite):
    """aiohttp's SockSite whose connections first pass through the FrontDoor."""

    def __init__(self, runner: web.AppRunner, sock: Any, tunnels: HubTunnels) -> None:
        super().__init__(runner, sock)
        self._tunnels = tunnels

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        tunnels = self._tunnels
        self._server = await asyncio.get_running_loop().create_server(
            lambda: FrontDoor(server, tunnels), sock=self._sock, backlog=self._backlog
        )
