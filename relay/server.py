"""The relay node: tunnel endpoint, phone API, queue delivery, drain.

server = RelayServer(RelayConfig(data_dir=path, port=0))
await server.start()
server.url                         # "http://127.0.0.1:PORT"
await server.create_account("me@example.org", "long password")
...
await server.drain(); await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from relay import protocol as p
from relay.accounts import Accounts
from relay.config import RelayConfig
from relay.errors import (
    BadRequest,
    HubOffline,
    Invalid,
    NotFound,
    RateLimited,
    RelayError,
)
from relay.limits import RateLimiter, TokenBucket
from relay.routing import InProcessRouting, Routing
from relay.shadows import ShadowCache
from relay.store import RelayStore
from relay.tunnel import CLOSE_PROTOCOL, CLOSE_REPLACED, HandshakeFailed, HubSession, SessionState
from relay.tunnel import handshake as tunnel_handshake

_LOG = logging.getLogger(__name__)

MAX_KEY = 150
OWNS_CACHE_S = 30.0
PHONE_WS_QUEUE = 500
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    body = json.dumps({"error": {"status": status, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _guard(handler: _Handler) -> _Handler:
    """Phone API errors become JSON. (Not a middleware: tunnels would carry its frame.)"""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RelayError as err:
            headers = {"Retry-After": "1"} if err.status in (429, 503) else None
            return _error(err.status, err.message, headers)

    return guarded


def _fd_budget() -> int:
    """Tunnels this process can hold: its open-file limit minus room for everything else."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return 10_000
    return max(16, soft - 256)


class RelayServer:
    """One relay node."""

    def __init__(self, config: RelayConfig, routing: Routing | None = None) -> None:
        self.config = config
        self.store = RelayStore(config.db_path)
        self.routing: Routing = routing or InProcessRouting()
        self.accounts = Accounts(self.store, config.session_ttl_s, config.claim_code_ttl_s)
        self.shadows = ShadowCache(self.store, config.shadow_flush_s)
        self.sessions: dict[str, HubSession] = {}
        self.draining = False
        self._admit = TokenBucket(config.admit_rate, config.admit_burst)
        self._rates = RateLimiter(config.account_rate, config.account_burst)
        # Password and claim-code guessing: a few tries a minute per address / account.
        self._login_rates = RateLimiter(config.login_rate, config.login_burst)
        self._claim_rates = RateLimiter(config.login_rate, config.login_burst)
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._delivering: dict[str, asyncio.Task[None]] = {}
        self._touch: set[str] = set()
        # New or renamed hubs, written in batches: one commit per connecting hub would cap a
        # reconnect storm at the disk's commit rate.
        self._hub_rows: dict[str, tuple[bytes, str, str, float]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._handshaking = 0
        self._owned_cache: dict[tuple[str, str], float] = {}
        # Open phone event sockets as (account, hub, session token hash, socket): unclaiming a
        # hub or logging out must cut them at once, not when the phone next reconnects.
        self._phone_sockets: set[tuple[str, str, str, web.WebSocketResponse]] = set()
        self.max_tunnels = config.max_tunnels or _fd_budget()
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """Base HTTP URL of this node."""
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def tunnel_url(self) -> str:
        """The WebSocket URL hubs dial."""
        return self.url.replace("http://", "ws://", 1) + "/v1/hub/connect"

    async def start(self) -> None:
        """Open the database and serve."""
        await self.store.open()
        self.shadows.start()
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="relay-sweep")
        app = self.build_app()
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, backlog=512)
        await site.start()
        self.port = self.config.port
        for address in self._runner.addresses:
            self.port = int(address[1])
            break
        _LOG.info("relay serving %s (tunnels at %s)", self.url, self.tunnel_url)

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
        """Close every tunnel and the database."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._tasks) + list(self._delivering.values()):
            task.cancel()
        sessions = list(self.sessions.values())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                await asyncio.gather(
                    *(s.close(p.CLOSE_GOING_AWAY, "relay node stopping") for s in sessions)
                )
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.shadows.stop()
        await self._write_hub_rows()
        await self.store.close()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _sweep_loop(self) -> None:
        # One timer for all tunnels instead of one per tunnel: 20k timers cost memory.
        hb = self.config.heartbeat_s
        while True:
            await asyncio.sleep(min(hb, 5.0))
            now = time.monotonic()
            silent = [s for s in self.sessions.values() if now - s.last_rx > 3 * hb]
            for session in silent:
                _LOG.info("hub %s silent for %.0f s; closing", session.hub_id, 3 * hb)
                # A dead peer never answers the close handshake: do not wait for it here.
                self._spawn(session.close(4003, "no heartbeat; reconnect"), "relay-close")
            try:
                await self._write_hub_rows()
            except Exception:
                _LOG.exception("could not record hubs and their last_seen; will retry")

    async def _write_hub_rows(self) -> None:
        rows, self._hub_rows = self._hub_rows, {}
        touch, self._touch = self._touch, set()
        try:
            if rows:
                await self.store.upsert_hubs(
                    [(h, key, local, name, ts) for h, (key, local, name, ts) in rows.items()]
                )
            if touch:
                await self.store.touch_hubs(touch, time.time())
        except Exception:
            for hub_id, row in rows.items():
                self._hub_rows.setdefault(hub_id, row)
            self._touch |= touch
            raise

    # ------------------------------------------------------------------ admin / demo API
    async def create_account(self, email: str, password: str) -> str:
        """A new account (CLI, demo, tests); returns its id."""
        return await self.accounts.create(email, password)

    async def login(self, email: str, password: str) -> str:
        """A session token for an account (demo, tests)."""
        return (await self.accounts.login(email, password))[1]

    async def claim(self, email: str, password: str, code: str) -> str:
        """Claim a hub for an account with a code the hub showed; returns the hub id."""
        account_id, _ = await self.accounts.login(email, password)
        return await self.accounts.claim(account_id, code)

    # ------------------------------------------------------------------ app
    def build_app(self) -> web.Application:
        """The aiohttp application: tunnel endpoint and phone API."""
        app = web.Application(client_max_size=p.MAX_BODY_BYTES)
        r = app.router
        r.add_get("/v1/health", _guard(self._health))
        r.add_get("/v1/hub/connect", self._hub_connect)
        r.add_post("/v1/accounts", _guard(self._signup))
        r.add_post("/v1/sessions", _guard(self._login))
        r.add_delete("/v1/sessions/current", _guard(self._logout))
        r.add_get("/v1/hubs", _guard(self._list_hubs))
        r.add_post("/v1/hubs/claim", _guard(self._claim))
        r.add_get("/v1/hubs/{hub_id}", _guard(self._get_hub))
        r.add_delete("/v1/hubs/{hub_id}", _guard(self._unclaim))
        r.add_get("/v1/hubs/{hub_id}/devices", _guard(self._devices))
        r.add_get("/v1/hubs/{hub_id}/devices/{device_id}", _guard(self._device))
        r.add_put("/v1/hubs/{hub_id}/devices/{device_id}/desired", _guard(self._desired))
        r.add_get("/v1/hubs/{hub_id}/queue", _guard(self._queue))
        r.add_get("/v1/hubs/{hub_id}/events", _guard(self._events))
        r.add_route("*", "/v1/hubs/{hub_id}/api/{tail:.*}", _guard(self._proxy))
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "draining" if self.draining else "ok", "tunnels": len(self.sessions)}
        )

    # ------------------------------------------------------------------ tunnels
    async def _hub_connect(self, request: web.Request) -> web.StreamResponse:
        if self.draining:
            refusal = _error(
                503,
                "this relay node is shutting down; reconnect later",
                {"Retry-After": str(random.randint(1, 10))},
            )
            refusal.force_close()
            return refusal
        busy = (
            self._handshaking >= self.config.max_handshakes
            or len(self.sessions) + self._handshaking >= self.max_tunnels
        )
        if busy or not self._admit.take():
            # Bounded admission turns a reconnect storm into a steady ramp; the refusal is
            # cheap and closes the socket at once so refused hubs do not pile up file handles.
            wait = self._admit.retry_after() + random.uniform(0.5, 3)
            refusal = _error(
                503,
                "too many hubs connecting right now; retry shortly",
                {"Retry-After": f"{wait:.1f}"},
            )
            refusal.force_close()
            return refusal
        # One coroutine (no helper frames) per tunnel: 20k of them stay suspended here.
        self._handshaking += 1
        counted = True
        try:
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
                auth, raw_key, hub_id = await tunnel_handshake(ws, self.config.max_frame_bytes)
            except HandshakeFailed as err:
                await ws.close(code=err.code, message=err.reason.encode()[:120])
                return ws
            except ConnectionError:
                return ws
            row = None if hub_id in self._hub_rows else await self.store.hub(hub_id)
            now = time.time()
            local_id, name = auth.hub_id[:80], auth.name[:80]
            if row is None or (
                auth.purpose == p.PURPOSE_TUNNEL and (row.local_id, row.name) != (local_id, name)
            ):
                self._hub_rows[hub_id] = (raw_key, local_id, name, now)
            session = HubSession(self, ws, hub_id, auth.name)
            if auth.purpose == p.PURPOSE_CONTROL:
                await self._serve_control(session)
                return ws
            self._handshaking -= 1  # from here on it counts as a tunnel
            counted = False
            old = await self.routing.attach(session)
            if old is not None and isinstance(old, HubSession):
                await old.close(CLOSE_REPLACED, "replaced by a newer connection of the same hub")
            self.sessions[hub_id] = session
            session.state = SessionState.ONLINE
            self._touch.add(hub_id)
            try:
                await session.send(
                    p.Welcome(hub_id, self.config.heartbeat_s, await self.shadows.digests(hub_id))
                )
                self.routing.publish(hub_id, {"type": "hub_online", "hub_id": hub_id, "ts": now})
                self._kick_queue(hub_id)
                await session.run(self._on_hub_message)
            except (RelayError, ConnectionError):
                pass
            finally:
                await self.routing.detach(session)
                if self.sessions.get(hub_id) is session:
                    del self.sessions[hub_id]
                    self.shadows.unload(hub_id)
                    self.routing.publish(
                        hub_id, {"type": "hub_offline", "hub_id": hub_id, "ts": time.time()}
                    )
                self._touch.add(hub_id)
            return ws
        finally:
            if counted:
                self._handshaking -= 1

    async def _serve_control(self, session: HubSession) -> None:
        """A short connection that asks for claim codes and does not carry traffic."""
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
        await self._write_hub_rows()  # a claim must find the hub's row
        code = await self.accounts.new_claim_code(session.hub_id)
        await session.send(p.ClaimCode(message.id, code, self.config.claim_code_ttl_s))

    async def _on_hub_message(self, session: HubSession, message: p.Message) -> None:
        hub_id = session.hub_id
        if isinstance(message, p.ShadowUpdate):
            await self.shadows.put(
                hub_id, message.device_id, message.version, message.device, message.resync
            )
        elif isinstance(message, p.ShadowGone):
            await self.shadows.remove(hub_id, message.device_id)
        elif isinstance(message, p.ResyncDone):
            await self.shadows.keep_only(hub_id, set(message.device_ids))
        elif isinstance(message, p.EventFrame):
            self.routing.publish(hub_id, message.event)
        elif isinstance(message, p.ClaimCodeRequest):
            await self._answer_claim_code(session, message)
        else:
            await session.close(CLOSE_PROTOCOL, f"a hub may not send {message.t}")

    # ------------------------------------------------------------------ phone API: accounts
    async def _account(self, request: web.Request) -> str:
        account_id, _ = await self.accounts.authenticate(request.headers.get("Authorization"))
        if not self._rates.allow(account_id):
            raise RateLimited("too many requests from this account; slow down and retry")
        return account_id

    async def _owned(self, request: web.Request) -> tuple[str, str]:
        """(account id, hub id) if this account claimed the hub; 404 otherwise."""
        account_id = await self._account(request)
        hub_id = request.match_info["hub_id"]
        # Same answer for "does not exist" and "not yours": ids reveal nothing.
        if not await self._owns(account_id, hub_id):
            raise NotFound(f"no hub {hub_id!r} in your account; GET /v1/hubs lists yours")
        return account_id, hub_id

    async def _owns(self, account_id: str, hub_id: str) -> bool:
        # Only "yes" is cached (briefly): a new claim counts at once, an unclaim here at once,
        # an unclaim on another node within OWNS_CACHE_S.
        key = (account_id, hub_id)
        now = time.monotonic()
        until = self._owned_cache.get(key)
        if until is not None and until > now:
            return True
        if not await self.store.owns(account_id, hub_id):
            self._owned_cache.pop(key, None)
            return False
        if len(self._owned_cache) > 100_000:
            self._owned_cache.clear()
        self._owned_cache[key] = now + OWNS_CACHE_S
        return True

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadRequest(f"the body is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data

    async def _signup(self, request: web.Request) -> web.Response:
        if not self.config.allow_signup:
            raise NotFound("sign-up is disabled on this relay; ask its operator for an account")
        self._limit_login(request)
        data = await self._json(request)
        account_id = await self.accounts.create(
            str(data.get("email", "")), str(data.get("password", ""))
        )
        return web.json_response({"account_id": account_id}, status=201)

    def _limit_login(self, request: web.Request) -> None:
        if not self._login_rates.allow(request.remote or "?"):
            raise RateLimited("too many log-in attempts from this address; wait a minute")

    async def _login(self, request: web.Request) -> web.Response:
        self._limit_login(request)
        data = await self._json(request)
        account_id, token = await self.accounts.login(
            str(data.get("email", "")), str(data.get("password", ""))
        )
        return web.json_response({"account_id": account_id, "token": token}, status=201)

    async def _logout(self, request: web.Request) -> web.Response:
        _, token_hash = await self.accounts.authenticate(request.headers.get("Authorization"))
        await self.accounts.logout(token_hash)
        await self._cut_phone_sockets(lambda _a, _h, t: t == token_hash, "you logged out")
        return web.Response(status=204)

    # ------------------------------------------------------------------ phone API: hubs
    async def _hub_summary(self, hub_id: str) -> dict[str, Any]:
        row = await self.store.hub(hub_id)
        if row is None:
            raise NotFound(f"no hub {hub_id!r} in your account")
        online = await self.routing.is_online(hub_id)
        return {
            "hub_id": hub_id,
            "name": row.name,
            "local_id": row.local_id,
            "online": online,
            "last_seen": time.time() if online else row.last_seen,
            "queued_writes": await self.store.queue_count(hub_id),
        }

    async def _list_hubs(self, request: web.Request) -> web.Response:
        account_id = await self._account(request)
        hubs = [
            await self._hub_summary(row.id) for row, _ in await self.store.account_hubs(account_id)
        ]
        return web.json_response({"hubs": hubs})

    async def _claim(self, request: web.Request) -> web.Response:
        account_id = await self._account(request)
        if not self._claim_rates.allow(account_id):
            raise RateLimited("too many claim attempts; wait a minute and check the code")
        data = await self._json(request)
        code = data.get("code")
        if not isinstance(code, str) or not code:
            raise Invalid('send {"code": "..."}: the code the hub shows')
        hub_id = await self.accounts.claim(account_id, code)
        return web.json_response(await self._hub_summary(hub_id), status=201)

    async def _get_hub(self, request: web.Request) -> web.Response:
        _, hub_id = await self._owned(request)
        return web.json_response(await self._hub_summary(hub_id))

    async def _unclaim(self, request: web.Request) -> web.Response:
        account_id, hub_id = await self._owned(request)
        self._owned_cache.pop((account_id, hub_id), None)
        await self.store.remove_claim(account_id, hub_id)
        await self._cut_phone_sockets(
            lambda a, h, _t: (a, h) == (account_id, hub_id), "the hub was removed from your account"
        )
        return web.Response(status=204)

    async def _cut_phone_sockets(
        self, which: Callable[[str, str, str], bool], reason: str
    ) -> None:
        for entry in [e for e in self._phone_sockets if which(*e[:3])]:
            self._phone_sockets.discard(entry)
            with contextlib.suppress(Exception):
                await entry[3].close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())

    async def _devices(self, request: web.Request) -> web.Response:
        _, hub_id = await self._owned(request)
        online = await self.routing.is_online(hub_id)
        devices = await self.shadows.devices(hub_id)
        return web.json_response(
            {
                "hub_online": online,
                "devices": [
                    {**c.device, "synced_at": c.updated, "version": c.version}
                    for _, c in sorted(devices.items())
                ],
            }
        )

    async def _device(self, request: web.Request) -> web.Response:
        _, hub_id = await self._owned(request)
        device_id = request.match_info["device_id"]
        cached = (await self.shadows.devices(hub_id)).get(device_id)
        if cached is None:
            raise NotFound(f"no device {device_id!r} on this hub")
        return web.json_response({**cached.device, "synced_at": cached.updated})

    # ------------------------------------------------------------------ desired writes + queue
    async def _desired(self, request: web.Request) -> web.Response:
        account_id, hub_id = await self._owned(request)
        device_id = request.match_info["device_id"]
        body = await self._json(request)
        if not isinstance(body.get("values"), dict) or not body["values"]:
            raise Invalid('send {"values": {property: value}}')
        key = request.headers.get("Idempotency-Key") or secrets.token_urlsafe(16)
        if not 0 < len(key) <= MAX_KEY:
            raise Invalid(f"Idempotency-Key must be 1 to {MAX_KEY} characters")
        # Namespaced per account so two accounts' keys can never collide on the hub.
        hub_key = f"relay:{account_id}:{key}"
        online = await self.routing.is_online(hub_id)
        if online and await self.store.queue_count(hub_id) == 0:
            try:
                resp = await self._forward_desired(hub_id, account_id, device_id, body, hub_key)
            except HubOffline:
                pass
            else:
                return web.json_response(resp.body, status=resp.status)
        if await self.store.queue_count(hub_id) >= self.config.max_queue_per_hub:
            raise RateLimited(
                f"{self.config.max_queue_per_hub} writes already wait for this hub; "
                "wait until it is back online"
            )
        ttl = body.get("ttl_s")
        ttl_s = float(ttl) if isinstance(ttl, int | float) else self.config.queue_ttl_s
        if not 0 < ttl_s <= 30 * 86400:
            raise Invalid("ttl_s must be between 0 and 30 days (in seconds)")
        now = time.time()
        seq = await self.store.enqueue(
            hub_id, account_id, device_id, body, hub_key, now, now + ttl_s
        )
        if await self.routing.is_online(hub_id):
            self._kick_queue(hub_id)
        return web.json_response(
            {"queued": True, "id": f"q{seq}", "expires_at": now + ttl_s, "hub_online": online},
            status=202,
        )

    async def _forward_desired(
        self, hub_id: str, account_id: str, device_id: str, body: Mapping[str, Any], key: str
    ) -> p.Response:
        return await self.routing.call(
            hub_id,
            p.Request(
                0,
                "PUT",
                f"/api/v1/devices/{device_id}/desired",
                {},
                {"idempotency-key": key, "content-type": "application/json"},
                json.dumps(dict(body)),
                f"relay:{account_id}",
            ),
            self.config.request_timeout_s,
        )

    def _kick_queue(self, hub_id: str) -> None:
        task = self._delivering.get(hub_id)
        if task is None or task.done():
            self._delivering[hub_id] = asyncio.create_task(
                self._deliver_queue(hub_id), name=f"relay-queue-{hub_id}"
            )

    async def _deliver_queue(self, hub_id: str) -> None:
        """Apply queued writes in order; each carries its idempotency key, so never twice."""
        while True:
            items = await self.store.queued(hub_id)
            if not items:
                break
            for item in items:
                if item.expires_at <= time.time():
                    await self.store.finish_queued(item.seq, "expired", None)
                    continue
                try:
                    resp = await self._forward_desired(
                        hub_id, item.account_id, item.device_id, item.body, item.idempotency_key
                    )
                except RelayError as err:
                    # Offline or timed out: keep it; the next connection retries with the same
                    # key, and the hub answers a replay if the first attempt did land.
                    _LOG.info("queued write q%d for %s waits: %s", item.seq, hub_id, err.message)
                    return
                if resp.status >= 500:
                    return
                status = "delivered" if resp.status < 300 else "rejected"
                await self.store.finish_queued(item.seq, status, resp.body)
                self.routing.publish(
                    hub_id,
                    {
                        "type": "queued_write",
                        "id": f"q{item.seq}",
                        "status": status,
                        "device": item.device_id,
                        "result": resp.body,
                        "ts": time.time(),
                    },
                )
        self._delivering.pop(hub_id, None)

    async def _queue(self, request: web.Request) -> web.Response:
        _, hub_id = await self._owned(request)
        statuses = ("queued", "delivered", "rejected", "expired")
        items = await self.store.queued(hub_id, statuses)
        return web.json_response({"queue": [i.to_dict() for i in items[-100:]]})

    # ------------------------------------------------------------------ events, proxy
    async def _events(self, request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        if header is None and "token" in request.query:
            header = f"Bearer {request.query['token']}"  # browsers cannot set WS headers
        account_id, token_hash = await self.accounts.authenticate(header)
        hub_id = request.match_info["hub_id"]
        if not await self._owns(account_id, hub_id):
            raise NotFound(f"no hub {hub_id!r} in your account; GET /v1/hubs lists yours")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
        await ws.prepare(request)
        entry = (account_id, hub_id, token_hash, ws)
        self._phone_sockets.add(entry)
        sub = self.routing.subscribe(hub_id, PHONE_WS_QUEUE)
        reader = asyncio.create_task(_drain_incoming(ws))
        try:
            online = await self.routing.is_online(hub_id)
            await ws.send_json({"type": "hello", "hub_id": hub_id, "online": online})
            reported = 0
            while not ws.closed:
                getter = asyncio.create_task(sub.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                if sub.dropped != reported:
                    await ws.send_json({"type": "overflow", "dropped": sub.dropped - reported})
                    reported = sub.dropped
                await ws.send_json(dict(getter.result()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._phone_sockets.discard(entry)
            sub.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await ws.close()
        return ws

    async def _proxy(self, request: web.Request) -> web.Response:
        account_id, hub_id = await self._owned(request)
        tail = request.match_info["tail"]
        if tail == "events":
            raise BadRequest(f"live events come from /v1/hubs/{hub_id}/events")
        if request.content_length is not None and request.content_length > p.MAX_BODY_BYTES:
            raise Invalid(f"the body is over {p.MAX_BODY_BYTES // 1024} KiB; send less")
        raw = await request.read()
        try:
            body = raw.decode()
        except UnicodeDecodeError:
            raise BadRequest("the hub API takes UTF-8 JSON bodies") from None
        headers = {
            k.lower(): v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "idempotency-key", "accept")
        }
        if "idempotency-key" in headers:
            headers["idempotency-key"] = f"relay:{account_id}:{headers['idempotency-key']}"
        resp = await self.routing.call(
            hub_id,
            p.Request(
                0,
                request.method,
                f"/api/v1/{tail}",
                dict(request.query),
                headers,
                body,
                f"relay:{account_id}",
            ),
            self.config.request_timeout_s,
        )
        if resp.body is None:
            return web.Response(status=resp.status)
        return web.json_response(resp.body, status=resp.status)


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


class _TunnelSocket(web.WebSocketResponse):
    """A hub's WebSocket whose size-limit closes always carry a reason the hub can log."""

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        """aiohttp closes a frame over its read limit with a bare 1009; say why."""
        if code == WSCloseCode.MESSAGE_TOO_BIG and not message:
            message = b"frame over the relay's size limit; split the data"
        return await super().close(code=code, message=message, drain=drain)
