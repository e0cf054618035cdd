"""The hub side of a relay node: `/v1/hub/connect`, admission, heartbeats, hub records, drain.

    tunnels = HubTunnels(config, store, routing, accounts, shadows, queue)
    app.router.add_get("/v1/hub/connect", tunnels.connect)
    tunnels.start(); ...; await tunnels.drain(); await tunnels.stop()

A hub's tunnel lives in one `HubSession` (relay/tunnel.py); this module admits it, attaches it to
the routing, applies what the hub pushes (shadows, events, claim-code requests) and lets the
offline queue know when the hub is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSCloseCode, web

from relay import protocol as p
from relay.accounts import Accounts
from relay.admission import ControlBudget, PendingBudget, Ticket, address_of, dropper
from relay.backup_vault import BackupVault
from relay.config import RelayConfig
from relay.errors import RelayError
from relay.http_json import error_response
from relay.limits import RateLimitedLog, RateLimiter, TokenBucket
from relay.openapi import doc
from relay.queue_delivery import QueueDelivery
from relay.routing import Routing
from relay.shadows import ShadowCache
from relay.store import RelayStore
from relay.tunnel import (
    CLOSE_PROTOCOL,
    CLOSE_REPLACED,
    CLOSE_SILENT,
    HandshakeFailed,
    HubSession,
    SessionState,
    TunnelSocket,
)
from relay.tunnel import handshake as tunnel_handshake

_LOG = logging.getLogger(__name__)

# Why a tunnel is refused before its upgrade: HTTP status, message, extra headers.
Refusal = tuple[int, str, dict[str, str]]


def fd_budget() -> int:
    """Tunnels this process can hold: its open-file limit minus room for everything else."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return 10_000
    return max(16, soft - 256)


class HubTunnels:
    """Every hub tunnel this node holds, from admission to close."""

    def __init__(
        self,
        config: RelayConfig,
        store: RelayStore,
        routing: Routing,
        accounts: Accounts,
        shadows: ShadowCache,
        queue: QueueDelivery,
        vault: BackupVault | None = None,
    ) -> None:
        self.config = config
        self.vault = vault
        self.store = store
        self.routing = routing
        self.accounts = accounts
        self.shadows = shadows
        self.queue = queue
        self.sessions: dict[str, HubSession] = {}
        self.draining = False
        self.max_tunnels = config.max_tunnels or fd_budget()
        self._admit = TokenBucket(config.admit_rate, config.admit_burst)
        self._handshaking = 0  # signed in, being attached (the hubs' own budget)
        self.pending = PendingBudget(config.max_pending, config.pending_per_address)
        self.control = ControlBudget(config.max_control_links, config.control_per_address)
        per_min = config.new_hubs_per_address_per_min
        self._new_identities = RateLimiter(per_min / 60.0, max(1.0, per_min))
        self._log_limit = RateLimitedLog(_LOG)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._endings: set[asyncio.Task[Any]] = set()
        self._touch: set[str] = set()
        # New or renamed hubs, written in batches: one commit per connecting hub would cap a
        # reconnect storm at the disk's commit rate.
        self._hub_rows: dict[str, tuple[bytes, str, str, float]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # Bound once: every watched lean tunnel keeps these two (not two of its own).
        self._on_message_cb = self._on_hub_message
        self._ended_cb = self.tunnel_ended
        # Told of every event a hub sends through its tunnel, on the node that holds it (Web
        # Push); it must return at once.
        self.on_event: Callable[[str, Mapping[str, Any]], None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Begin the heartbeat sweep (which also writes hub records in batches)."""
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="relay-sweep")

    async def drain(self) -> None:
        """Stop admitting; tell every hub to reconnect after a spread-out random delay."""
        self.draining = True
        spread = self.config.drain_spread_s
        sessions = list(self.sessions.values())

        async def tell(session: HubSession) -> None:
            session.state = SessionState.DRAINING
            # A stuck hub must not hold up the drain of the others.
            with contextlib.suppress(RelayError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await session.send(
                        p.Drain(round(random.uniform(0, spread), 3), "relay node restarting")
                    )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await session.close(
                        p.CLOSE_GOING_AWAY, "relay node restarting; reconnect later"
                    )

        for start in range(0, len(sessions), 2000):
            await asyncio.gather(*(tell(s) for s in sessions[start : start + 2000]))

    async def stop(self) -> None:
        """Close every tunnel (the hubs reconnect elsewhere or later)."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        sessions = list(self.sessions.values())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                await asyncio.gather(
                    *(s.close(p.CLOSE_GOING_AWAY, "relay node stopping") for s in sessions)
                )
        # After the close frames: the lean path's tunnels have no task while idle; end those
        # still open (their ending runs in a task of its own, not cancelled here). Tasks that
        # remain (tunnels being served, the aiohttp route's) are cancelled: a cancelled one
        # cuts its connection without saying why.
        for session in sessions:
            end = getattr(session.ws, "end", None)
            if end is not None:
                end()
        for task in list(self._tasks):
            task.cancel()

    async def write_hub_rows(self) -> None:
        """Record new or renamed hubs and last-seen times now (also done every sweep)."""
        rows, self._hub_rows = self._hub_rows, {}
        touch, self._touch = self._touch, set()
        try:
            if rows:
                await self.store.upsert_hubs(
                    [(h, key, local, name, ts) for h, (key, local, name, ts) in rows.items()]
                )
            if touch:
                await self.store.touch_hubs(touch, time.time())
        except BaseException:  # failed, or cancelled at stop: both writes can be done again
            for hub_id, row in rows.items():
                self._hub_rows.setdefault(hub_id, row)
            self._touch |= touch
            raise

    def spawn(self, coro: Awaitable[Any], name: str, *, ending: bool = False) -> asyncio.Task[Any]:
        """Run `coro` as a task this node cancels when it stops; an `ending` one (a tunnel's
        last steps) is kept until done but not cancelled."""
        return self._spawn(coro, name, self._endings if ending else self._tasks)

    def _spawn(
        self, coro: Awaitable[Any], name: str, tasks: set[asyncio.Task[Any]] | None = None
    ) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        tasks = self._tasks if tasks is None else tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def _sweep_loop(self) -> None:
        # One timer for all tunnels instead of one per tunnel: 20k timers cost memory.
        hb = self.config.heartbeat_s
        next_purge = 0.0
        while True:
            await asyncio.sleep(min(hb, 5.0))
            now = time.monotonic()
            silent = [s for s in self.sessions.values() if now - s.last_rx > 3 * hb]
            for session in silent:
                _LOG.info("hub %s silent for %.0f s; closing", session.hub_id, 3 * hb)
                # A dead peer never answers the close handshake: do not wait for it here.
                self._spawn(session.close(4003, "no heartbeat; reconnect"), "relay-close")
            try:
                await self.write_hub_rows()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + 60.0
                    await self.store.purge_expired(time.time())
            except Exception:
                _LOG.exception("could not record hubs or purge expired codes; will retry")

    # ------------------------------------------------------------------ admission
    def _refusal(self) -> Refusal | None:
        """(status, message, headers) when this node must not take another tunnel now."""
        if self.draining:
            return (
                503,
                "this relay node is shutting down; reconnect later",
                {"Retry-After": str(random.randint(1, 10))},
            )
        problem = self.routing.health()
        if problem is not None:
            return (
                503,
                f"this relay node cannot take hubs now ({problem}); connect to another node",
                {"Retry-After": str(random.randint(1, 5))},
            )
        # Upgrades still waiting to sign in hold file handles too (this one included).
        held = len(self.sessions) + self._handshaking + len(self.pending) - 1
        busy = self._handshaking >= self.config.max_handshakes or held >= self.max_tunnels
        if busy or not self._admit.take():
            # Bounded admission turns a reconnect storm into a steady ramp; the refusal is
            # cheap and closes the socket at once so refused hubs do not pile up file handles.
            wait = self._admit.retry_after() + random.uniform(0.5, 3)
            return (
                503,
                "too many hubs connecting right now; retry shortly",
                {"Retry-After": f"{wait:.1f}"},
            )
        return None

    def admit(
        self, peer: str, forwarded: str, drop: Callable[[], None]
    ) -> tuple[Refusal | None, Ticket | None]:
        """Admission of a tunnel's upgrade: (refusal, None) or (None, its pending ticket).

        Both connection paths use it: the aiohttp route and the lean one (relay/lean_tunnel.py).
        """
        address = address_of(peer, forwarded, self.config.trusted_proxies)
        ticket = self.pending.enter(address, drop)
        if ticket is None:
            crowded = (
                503,
                "too many connections from your address are waiting to sign in; retry shortly",
                {"Retry-After": f"{random.uniform(1, 5):.1f}"},
            )
            return crowded, None
        refusal = self._refusal()
        if refusal is not None:
            self.pending.leave(ticket)
            return refusal, None
        return None, ticket

    @doc(
        "A hub's tunnel (WebSocket): the hub proves its key in a signed handshake, then "
        "phones reach it through the relay (relay/protocol.py). Not for phones",
        websocket=True,
        auth="hub",
        tag="hub",
        errors=(503,),
    )
    async def connect(self, request: web.Request) -> web.StreamResponse:
        """`GET /v1/hub/connect`: admit, authenticate and serve one hub tunnel.

        Most hubs reach `serve()` through the lean path (relay/lean_tunnel.py) instead; this
        route serves an upgrade that was not a connection's first request.
        """
        refusal, ticket = self.admit(
            request.remote or "?", request.headers.get("X-Forwarded-For", ""), dropper(request)
        )
        if refusal is not None:
            status, message, headers = refusal
            answer = error_response(status, message, headers)
            answer.force_close()
            return answer
        assert ticket is not None
        ws = _TunnelSocket(
            # Up to twice our limit the tunnel reads the frame and closes with its reason;
            # beyond that aiohttp refuses it unread (memory) and _TunnelSocket adds one.
            max_msg_size=2 * self.config.max_frame_bytes,
            autoping=True,
            heartbeat=None,
            compress=False,
            timeout=2.0,  # how long close() waits for the hub's answer
        )
        try:
            await ws.prepare(request)
        except BaseException:
            self.pending.leave(ticket)
            raise
        await self.serve(ws, ticket)
        return ws

    async def serve(self, ws: TunnelSocket, ticket: Ticket) -> None:
        """Authenticate an upgraded tunnel and serve it until it closes."""
        address = ticket.address
        # One coroutine (no helper frames) per tunnel; on the lean path it ends once the
        # tunnel is attached (`watch`), on the aiohttp route it stays suspended here.
        counted = False
        try:
            try:
                auth, raw_key, hub_id = await tunnel_handshake(
                    ws, self.config.max_frame_bytes, self.config.handshake_timeout_s
                )
            except HandshakeFailed as err:
                if not ticket.dropped:
                    await ws.close(code=err.code, message=err.reason.encode()[:120])
                return
            except ConnectionError:
                return
            finally:
                self.pending.leave(ticket)
            row = None if hub_id in self._hub_rows else await self.store.hub(hub_id)
            if row is None and hub_id not in self._hub_rows and not self._may_register(address):
                await ws.close(
                    code=p.CLOSE_TRY_AGAIN,
                    message=b"too many new hub identities from your address; retry later",
                )
                return
            if auth.purpose == p.PURPOSE_CONTROL:
                await self._serve_control(ws, auth, raw_key, hub_id, address)
                return
            if self._handshaking >= self.config.max_handshakes:
                await ws.close(
                    code=p.CLOSE_TRY_AGAIN, message=b"too many hubs connecting; retry shortly"
                )
                return
            self._handshaking += 1
            counted = True
            now = time.time()
            local_id, name = auth.hub_id[:80], auth.name[:80]
            if row is None or (
                auth.purpose == p.PURPOSE_TUNNEL and (row.local_id, row.name) != (local_id, name)
            ):
                self._hub_rows[hub_id] = (raw_key, local_id, name, now)
            session = HubSession(self.config, ws, hub_id, auth.name)
            self._handshaking -= 1  # from here on it counts as a tunnel
            counted = False
            try:
                old = await self.routing.attach(session)
            except RelayError as err:
                await ws.close(code=p.CLOSE_TRY_AGAIN, message=err.message.encode()[:120])
                return
            if old is not None and isinstance(old, HubSession):
                await old.close(CLOSE_REPLACED, "replaced by a newer connection of the same hub")
            self.sessions[hub_id] = session
            session.state = SessionState.ONLINE
            self._touch.add(hub_id)
            # On the aiohttp route this frame stays suspended for the tunnel's life: drop what
            # it no longer needs (the decoded auth message, the replaced session with its socket).
            del auth, raw_key, row, ticket, old, local_id, name
            watched = False
            try:
                await session.send(
                    p.Welcome(hub_id, self.config.heartbeat_s, await self.shadows.digests(hub_id))
                )
                self.routing.publish(hub_id, {"type": "hub_online", "hub_id": hub_id, "ts": now})
                self.queue.kick(hub_id)
                watch = getattr(ws, "watch", None)
                if watch is not None:
                    # The lean path: from here the tunnel runs from its socket's callbacks
                    # (a short task only while messages wait) and calls `tunnel_ended` at
                    # its end. This task ends, so an idle tunnel holds no task or frames.
                    watch(session, self._on_message_cb, self._ended_cb)
                    watched = True
                    return
                await session.run(self._on_hub_message)
            except (RelayError, ConnectionError):
                pass
            finally:
                if not watched:
                    await self.tunnel_ended(session)
            return
        finally:
            if counted:
                self._handshaking -= 1

    async def tunnel_ended(self, session: HubSession) -> None:
        """A tunnel attached by `serve()` is gone: detach it and tell whoever listens."""
        hub_id = session.hub_id
        if self.vault is not None:
            await self.vault.tunnel_closed(hub_id, id(session))
        await self.routing.detach(session)
        if self.sessions.get(hub_id) is session:
            del self.sessions[hub_id]
            self.shadows.unload(hub_id)
            self.routing.publish(
                hub_id, {"type": "hub_offline", "hub_id": hub_id, "ts": time.time()}
            )
        self._touch.add(hub_id)

    def _may_register(self, address: str) -> bool:
        """A new hub identity (a key anyone can make) within its address's allowance."""
        return self._new_identities.allow(address)

    # ------------------------------------------------------------------ what hubs send
    async def _serve_control(
        self, ws: TunnelSocket, auth: p.Auth, raw_key: bytes, hub_id: str, address: str
    ) -> None:
        """A short connection that asks for claim codes and does not carry traffic.

        It has its own small budget and a deadline, so control links (whose key anyone can
        make) never take the places hub tunnels need.
        """
        if not self.control.enter(address):
            await ws.close(
                code=p.CLOSE_TRY_AGAIN, message=b"too many control links open; retry shortly"
            )
            return
        try:
            if hub_id not in self._hub_rows and await self.store.hub(hub_id) is None:
                self._hub_rows[hub_id] = (raw_key, auth.hub_id[:80], auth.name[:80], time.time())
            session = HubSession(self.config, ws, hub_id, auth.name)
            with contextlib.suppress(TimeoutError, RelayError, ConnectionError):
                async with asyncio.timeout(self.config.control_link_s):
                    await self._run_control(session)
            if not ws.closed:
                await session.close(CLOSE_SILENT, "control link open too long; reconnect")
        finally:
            self.control.leave(address)

    async def _run_control(self, session: HubSession) -> None:
        session.state = SessionState.ONLINE
        await session.send(p.Welcome(session.hub_id, self.config.heartbeat_s, {}))

        async def on_message(s: HubSession, message: p.Message) -> None:
            if isinstance(message, p.ClaimCodeRequest):
                await self._answer_claim_code(s, message)
            else:
                await s.close(CLOSE_PROTOCOL, f"{message.t} is not allowed on a control link")

        with contextlib.suppress(RelayError, ConnectionError):
            await session.run(on_message)

    async def _answer_claim_code(self, session: HubSession, message: p.ClaimCodeRequest) -> None:
        await self.write_hub_rows()  # a claim must find the hub's row
        code = await self.accounts.new_claim_code(
            session.hub_id, self.config.max_claim_codes_per_hub
        )
        await session.send(p.ClaimCode(message.id, code, self.config.claim_code_ttl_s))

    async def _on_hub_message(self, session: HubSession, message: p.Message) -> None:
        hub_id = session.hub_id
        if isinstance(message, p.ShadowUpdate):
            problem = await self._record_problem(hub_id, message)
            if problem is not None:
                self._log_limit.warning(f"hub {hub_id}: {problem}; record dropped")
                return
            await self.shadows.put(
                hub_id, message.device_id, message.version, message.device, message.resync
            )
        elif isinstance(message, p.ShadowGone):
            await self.shadows.remove(hub_id, message.device_id)
        elif isinstance(message, p.ResyncDone):
            await self.shadows.keep_only(hub_id, set(message.device_ids))
        elif isinstance(message, p.EventFrame):
            self.routing.publish(hub_id, message.event)
            if self.on_event is not None:
                self.on_event(hub_id, message.event)
        elif isinstance(message, p.ClaimCodeRequest):
            await self._answer_claim_code(session, message)
        elif isinstance(message, p.BackupPut | p.BackupChunk | p.BackupDone) and self.vault:
            await session.send(await self.vault.on_message(hub_id, id(session), message))
        else:
            await session.close(CLOSE_PROTOCOL, f"a hub may not send {message.t}")


    async def _record_problem(self, hub_id: str, message: p.ShadowUpdate) -> str | None:
        """Why the relay will not keep this device record, or None."""
        size = len(json.dumps(message.device, separators=(",", ":")))
        if size > self.config.max_record_bytes:
            return f"device {message.device_id[:80]} is {size} bytes, over the record limit"
        devices = await self.shadows.devices(hub_id)
        if message.device_id not in devices and len(devices) >= self.config.max_devices_per_hub:
            return f"over {self.config.max_devices_per_hub} devices"
        return None


class _TunnelSocket(web.WebSocketResponse):
    """A hub's WebSocket whose size-limit closes always carry a reason the hub can log."""

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        """aiohttp closes a frame over its read limit with a bare 1009; say why."""
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = b"frame over the relay's size limit; split the data"
        return await super().close(code=code, message=message, drain=drain)
