"""The hub's end of the tunnel: dial out, authenticate, multiplex, heartbeat, reconnect.

`TunnelClient` knows nothing of the hub; a `TunnelHandler` answers requests and resyncs state,
so the same client drives the real hub (hub.relay_link.component) and the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import aiohttp

from hub.relay_link.identity import HubIdentity
from hub.relay_link.reconnect import LinkState, ReconnectLogic
from relay import protocol as p

_LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
MAX_IN_FLIGHT = 64
_TOO_LARGE = "the answer is too large for the relay tunnel; ask for less (filters, a shorter range)"


class LinkError(Exception):
    """The relay refused or broke the link; the message says why."""


class TunnelHandler(Protocol):
    """What the tunnel needs from its owner."""

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        """Connected: push whatever the relay's cache lacks."""

    async def on_request(self, request: p.Request) -> p.Response:
        """Answer one proxied request."""

    def on_disconnected(self) -> None:
        """The session ended (the client reconnects by itself)."""


def _error(request_id: int, status: int, message: str) -> p.Response:
    return p.Response(request_id, status, {"error": {"status": status, "message": message}})


def tunnel_url(url: str) -> str:
    """Accept `ws(s)://host[:port]`, `http(s)://...` or the full `/v1/hub/connect` URL."""
    if url.startswith("http://"):
        url = "ws://" + url[7:]
    elif url.startswith("https://"):
        url = "wss://" + url[8:]
    if not url.rstrip("/").endswith("/v1/hub/connect"):
        url = url.rstrip("/") + "/v1/hub/connect"
    return url


class TunnelClient:
    """One outbound tunnel, kept up until `stop()`."""

    def __init__(
        self,
        url: str,
        identity: HubIdentity,
        handler: TunnelHandler,
        *,
        local_id: str = "",
        name: str = "",
        reconnect: ReconnectLogic | None = None,
        session: aiohttp.ClientSession | None = None,
        local_addr: tuple[str, int] | None = None,
        on_state: Callable[[LinkState], None] | None = None,
        ask_route: bool = False,
    ) -> None:
        self.url = tunnel_url(url)
        # A relay cluster: ask any node (through `url`) which node to dial, before each dial.
        self.ask_route = ask_route
        self.dialled = self.url
        self.identity = identity
        self.handler = handler
        self.local_id = local_id
        self.name = name
        self.reconnect = reconnect or ReconnectLogic()
        self._own_session = session is None
        self._session = session
        self._local_addr = local_addr
        self._on_state = on_state
        self.state = LinkState.IDLE
        self.relay_hub_id = identity.relay_hub_id
        self.connected_since: float | None = None
        self.last_error = ""
        self.sessions = 0
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._pending_calls: dict[int, asyncio.Future[p.Message]] = {}
        self._next_call = 0
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._request_tasks: set[asyncio.Task[None]] = set()
        self._last_rx = time.monotonic()
        self._half_open = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Begin connecting in the background."""
        if self._task is None:
            if self.state is LinkState.STOPPED:
                self.state = LinkState.IDLE
            self._task = asyncio.create_task(self._run(), name="relay-link")

    async def stop(self) -> None:
        """Close the tunnel and stop reconnecting."""
        self._set_state(LinkState.STOPPED)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close(code=p.CLOSE_GOING_AWAY, message=b"hub stopping")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._request_tasks):
            task.cancel()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def connected(self) -> bool:
        """Is a welcomed session up?"""
        return self.state is LinkState.CONNECTED

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the next CONNECTED state (tests, demo)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def _set_state(self, state: LinkState) -> None:
        self.state = state
        if state is LinkState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        if self._on_state is not None:
            self._on_state(state)

    def _stopped(self) -> bool:
        return self.state is LinkState.STOPPED

    async def _run(self) -> None:
        while not self._stopped():
            delay = self.reconnect.next_delay()
            if delay > 0:
                self._set_state(LinkState.WAITING)
                await asyncio.sleep(delay)
            try:
                await self._session_once()
            except asyncio.CancelledError:
                raise
            except (LinkError, aiohttp.ClientError, OSError, TimeoutError) as err:
                self.last_error = str(err) or type(err).__name__
                _LOG.info("relay link to %s: %s", self.url, self.last_error)
                self.reconnect.failed()
            except p.ProtocolError as err:
                self.last_error = f"relay spoke an unknown protocol: {err}"
                _LOG.warning("relay link: %s", self.last_error)
                self.reconnect.failed()
            finally:
                if self.state is LinkState.CONNECTED:
                    self.handler.on_disconnected()
                self._ws = None
                self.connected_since = None
                for fut in self._pending_calls.values():
                    if not fut.done():
                        fut.set_exception(LinkError("the relay link closed"))
                self._pending_calls.clear()
                if not self._stopped():
                    self._set_state(LinkState.WAITING)

    async def _session_once(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(local_addr=self._local_addr, limit=0)
            self._session = aiohttp.ClientSession(connector=connector)
        self._set_state(LinkState.CONNECTING)
        self.dialled = await self._route() if self.ask_route else self.url
        try:
            ws = await self._session.ws_connect(
                self.dialled,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                max_msg_size=2 * p.MAX_FRAME_BYTES,
                autoping=True,
                heartbeat=None,
                compress=0,
            )
        except aiohttp.WSServerHandshakeError as err:
            retry = err.headers.get("Retry-After") if err.headers else None
            if retry is not None:
                with contextlib.suppress(ValueError):
                    self.reconnect.hint(float(retry))
            raise LinkError(f"relay answered {err.status}: {err.message}") from err
        self._ws = ws
        try:
            self._set_state(LinkState.AUTHENTICATING)
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                challenge = await self._receive(ws)
                if not isinstance(challenge, p.Challenge):
                    raise LinkError(f"expected a challenge, got {challenge.t}")
                await ws.send_str(
                    p.encode(
                        self.identity.auth(
                            challenge.nonce, self.local_id, self.name, p.PURPOSE_TUNNEL
                        )
                    )
                )
                welcome = await self._receive(ws)
            if not isinstance(welcome, p.Welcome):
                raise LinkError(f"expected welcome, got {welcome.t}")
            self.relay_hub_id = welcome.hub_id
            self.connected_since = time.time()
            self.sessions += 1
            self.reconnect.connected()
            self._set_state(LinkState.CONNECTED)
            pinger = asyncio.create_task(self._heartbeat(ws, welcome.heartbeat_s))
            try:
                await self.handler.on_welcome(self, welcome)
                await self._read_loop(ws)
            finally:
                pinger.cancel()
            # The session ended: come back after a small random delay, not all at once.
            self.reconnect.failed()
        finally:
            if not ws.closed:
                await ws.close()

    async def _route(self) -> str:
        """The node `GET /v1/hub/route` names, or our URL when it names none or fails."""
        assert self._session is not None
        base = self.url.removesuffix("/v1/hub/connect")
        base = "http" + base[2:] if base.startswith("ws") else base
        try:
            async with self._session.get(
                base + p.ROUTE_PATH, timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                body = await resp.json() if resp.status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            _LOG.info("relay route lookup failed (%s); dialling %s", err, self.url)
            return self.url
        url = body.get("url") if isinstance(body, dict) else None
        if isinstance(url, str) and url.startswith(("ws://", "wss://")):
            return url
        return self.url

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> p.Message:
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            return p.decode(msg.data)
        raise LinkError(self._close_reason(ws, msg))

    @staticmethod
    def _close_reason(ws: aiohttp.ClientWebSocketResponse, msg: aiohttp.WSMessage) -> str:
        code = ws.close_code if ws.close_code is not None else msg.data
        extra = msg.extra if isinstance(msg.extra, str) and msg.extra else ""
        return f"relay closed the link ({code}{': ' + extra if extra else ''})"

    async def _read_loop(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await ws.receive()
            self._last_rx = time.monotonic()
            if msg.type != aiohttp.WSMsgType.TEXT:
                if not self._half_open:
                    self.last_error = self._close_reason(ws, msg)
                _LOG.info("relay link: %s", self.last_error)
                return
            message = p.decode(msg.data)
            if isinstance(message, p.Request):
                task = asyncio.create_task(self._serve(message))
                self._request_tasks.add(task)
                task.add_done_callback(self._request_tasks.discard)
            elif isinstance(message, p.ClaimCode | p.ErrorFrame | p.BackupAck):
                fut = self._pending_calls.get(message.id)
                if fut is not None and not fut.done():
                    fut.set_result(message)
            elif isinstance(message, p.Ping):
                await self.send(p.Pong(message.ts))
            elif isinstance(message, p.Drain):
                _LOG.info(
                    "relay is draining (%s); reconnecting in %.1f s",
                    message.reason,
                    message.reconnect_after_s,
                )
                self.reconnect.hint(message.reconnect_after_s)
                return

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse, interval: float) -> None:
        # Silence for 2.5 intervals means the link is half-open (NAT dropped it, relay froze).
        self._last_rx = time.monotonic()
        self._half_open = False
        while not ws.closed:
            await asyncio.sleep(interval)
            if time.monotonic() - self._last_rx > 2.5 * interval:
                self._half_open = True
                self.last_error = f"no answer from the relay for {2.5 * interval:g} s"
                _LOG.info("relay link half-open: %s; reconnecting", self.last_error)
                await ws.close(code=4003, message=b"no heartbeat")
                return
            with contextlib.suppress(LinkError):
                await self.send(p.Ping(time.time()))

    async def _serve(self, request: p.Request) -> None:
        async with self._slots:
            try:
                response = await self.handler.on_request(request)
            except Exception:
                _LOG.exception("relay request %s %s failed", request.method, request.path)
                response = _error(request.id, 500, "internal error; the hub log has details")
            try:
                await self.send(response)
            except p.FrameTooLarge:
                await self.send(_error(request.id, 502, _TOO_LARGE))
            except LinkError:
                pass

    async def send(self, message: p.Message) -> None:
        """Send one frame if connected; LinkError otherwise."""
        ws = self._ws
        if ws is None or ws.closed:
            raise LinkError("not connected to the relay")
        text = p.encode(message)
        try:
            await ws.send_str(text)
        except (ConnectionError, RuntimeError) as err:
            raise LinkError(f"the relay link broke: {err}") from err

    async def send_raw(self, text: str) -> None:
        """Send a frame as is (tests of the relay's limits)."""
        if self._ws is None:
            raise LinkError("not connected to the relay")
        await self._ws.send_str(text)

    def next_call_id(self) -> int:
        """A fresh id for a hub-initiated call."""
        self._next_call += 1
        return self._next_call

    async def call(self, message: p.Message, timeout: float = 10.0) -> p.Message:
        """Send a hub-initiated frame (it carries `id`) and wait for the relay's answer to it;
        LinkError with the relay's reason if it answers with an error."""
        cid = int(getattr(message, "id"))  # noqa: B009 - every call frame has one
        fut: asyncio.Future[p.Message] = asyncio.get_running_loop().create_future()
        self._pending_calls[cid] = fut
        try:
            await self.send(message)
            async with asyncio.timeout(timeout):
                answer = await fut
        except TimeoutError:
            raise LinkError(f"the relay did not answer within {timeout:g} s") from None
        finally:
            self._pending_calls.pop(cid, None)
        if isinstance(answer, p.ErrorFrame):
            raise LinkError(answer.message)
        return answer

    async def request_claim_code(self, timeout: float = 10.0) -> p.ClaimCode:
        """Ask the relay for a one-time claim code."""
        answer = await self.call(p.ClaimCodeRequest(self.next_call_id()), timeout)
        assert isinstance(answer, p.ClaimCode)
        return answer
