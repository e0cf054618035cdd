"""A relay node: the composition of its parts, and its lifecycle.

    server = RelayServer(RelayConfig(data_dir=path, port=0))
    await server.start()
    server.url                         # "http://127.0.0.1:PORT"
    await server.create_account("me@example.org", "long password")
    ...
    await server.drain(); await server.stop()

Where things live (each part talks to the others through the routing and the store):

    relay/hub_tunnels.py      hub tunnels: admission, heartbeats, what hubs push, drain
    relay/tunnel.py           one hub tunnel: handshake, request multiplexing
    relay/phone/              the phone API, one module per part (accounts, hubs, devices ...)
    relay/queue_delivery.py   desired writes queued for an offline hub, delivered once, in order
    relay/accounts.py         accounts, sessions, claim codes
    relay/backup_vault.py     encrypted backups: uploads through tunnels, downloads by vault key
    relay/push.py             Web Push of hub notifications (VAPID key shared by all nodes)
    relay/routing.py          where each hub's tunnel is (the interface between nodes)
    relay/store.py            persistent state
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from relay import logjson
from relay import protocol as p
from relay.accounts import CACHE_S, Accounts
from relay.backup_vault import BackupVault
from relay.config import RelayConfig
from relay.errors import Draining, RelayError
from relay.http_json import guard, json_errors
from relay.hub_tunnels import HubTunnels
from relay.lean_tunnel import LeanSite
from relay.listen import bind_listener
from relay.metrics import Metrics, Timer
from relay.openapi import BOOLEAN, INTEGER, STRING, arr, doc, nullable, obj, openapi_document
from relay.phone import PhoneContext, PhonePart, phone_parts
from relay.private_files import make_private
from relay.push import WebPush
from relay.queue_delivery import QueueDelivery
from relay.routing import NodeInfo, Routing, routing_for
from relay.shadows import ShadowCache
from relay.store import RelayStore
from relay.tunnel import HubSession
from relay.webapp import WebApp

_LOG = logging.getLogger(__name__)


class RelayServer:
    """One relay node."""

    def __init__(self, config: RelayConfig, routing: Routing | None = None) -> None:
        self.config = config
        self.store = RelayStore(config.store_location)
        self.routing: Routing = routing or routing_for(config)
        self.accounts = Accounts(
            self.store,
            config.session_ttl_s,
            config.claim_code_ttl_s,
            cache_s=0.0 if config.routing_url else CACHE_S,  # a cluster: logout on any node
        )
        self.shadows = ShadowCache(self.store, config.shadow_flush_s)
        self.queue = QueueDelivery(self.store, self.routing, config)
        self.vault = BackupVault(config, self.store)
        self.tunnels = HubTunnels(
            config, self.store, self.routing, self.accounts, self.shadows, self.queue, self.vault
        )
        self.push = WebPush(config, self.store)
        self.tunnels.on_event = self.push.on_hub_event
        self.phone = PhoneContext(
            config, self.store, self.routing, self.accounts, self.shadows, self.queue, self.push
        )
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.routing.describe_with(self.describe)
        self._store_problem: str | None = None
        self.metrics = self._build_metrics()
        self._openapi_doc: dict[str, Any] | None = None

    # ------------------------------------------------------------------ what tests look at
    @property
    def sessions(self) -> dict[str, HubSession]:
        """The hub tunnels this node holds, by relay hub id."""
        return self.tunnels.sessions

    @property
    def draining(self) -> bool:
        """Has this node stopped admitting tunnels?"""
        return self.tunnels.draining

    @property
    def max_tunnels(self) -> int:
        """How many tunnels this node admits at most."""
        return self.tunnels.max_tunnels

    @property
    def url(self) -> str:
        """Base HTTP URL of this node."""
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def tunnel_url(self) -> str:
        """The WebSocket URL hubs dial."""
        return tunnel_url_of(self.url)

    # ------------------------------------------------------------------ lifecycle
    def describe(self) -> NodeInfo:
        """This node for the route endpoint: where it is, how loaded, whether it admits."""
        return NodeInfo(
            self.routing.node_id,
            self.config.node_url.rstrip("/"),
            len(self.sessions),
            self.max_tunnels,
            self.draining,
            self.health_problem() is None,
        )

    async def start(self) -> None:
        """Open the database, join the routing and serve."""
        # Bind first: a taken port must stop the start before the database is open.
        listener = bind_listener(self.config.host, self.config.port)
        try:
            await asyncio.to_thread(make_private, self.config.data_dir)
            await self.store.open()
            await self.vault.sweep()
            await self.push.start()
        except BaseException:
            listener.close()
            raise
        app = self.build_app()
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, keepalive_timeout=30.0
        )
        await self._runner.setup()
        site = (
            LeanSite(self._runner, listener, self.tunnels)
            if self.config.lean_tunnels
            else web.SockSite(self._runner, listener)
        )
        await site.start()
        self.port = self.config.port
        for address in self._runner.addresses:
            self.port = int(address[1])
            break
        try:
            await self.routing.start()
        except BaseException:
            await self._runner.cleanup()
            await self.push.stop()
            await self.store.close()
            raise
        self.shadows.start()
        self.tunnels.start()
        self.queue.start()
        _LOG.info("relay serving %s (tunnels at %s)", self.url, self.tunnel_url)

    async def drain(self) -> None:
        """Stop admitting; tell every hub to reconnect after a spread-out random delay."""
        self.tunnels.draining = True  # /v1/health answers 503 from now on
        if self.config.drain_grace_s > 0:
            await asyncio.sleep(self.config.drain_grace_s)
        await self.tunnels.drain()

    async def stop(self) -> None:
        """Close every tunnel, leave the routing and close the database."""
        await self.tunnels.stop()
        await self.queue.stop()
        await self.push.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.routing.stop()
        await self.shadows.stop()
        await self.tunnels.write_hub_rows()
        await self.store.close()

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
        return (await self.accounts.claim(account_id, code))[0]

    # ------------------------------------------------------------------ app
    def phone_parts(self) -> list[PhonePart]:
        """The phone API's parts; a subclass may extend the list."""
        return phone_parts(self.phone)

    def build_app(self) -> web.Application:
        """The aiohttp application: health, the tunnel endpoint and the phone API."""
        app = web.Application(
            client_max_size=p.MAX_BODY_BYTES, middlewares=[self._observe, json_errors]
        )
        app.router.add_get("/metrics", self.metrics.handle)
        app.router.add_get("/v1/openapi.json", guard(self._openapi))
        app.router.add_get("/v1/health", guard(self._health))
        app.router.add_get(p.ROUTE_PATH, guard(self._route))
        app.router.add_get("/v1/hub/connect", self.tunnels.connect)
        self.vault.add_routes(app.router)
        for part in self.phone_parts():
            part.add_routes(app.router)
        # The phone web app under / (the API stays under /v1); every node serves the same files.
        WebApp("relay").add_routes(app)
        return app

    def _build_metrics(self) -> Metrics:
        m = Metrics("homehub_relay", self.config.metrics_token)
        tunnels = self.tunnels
        m.gauge("tunnels", "Hub tunnels open on this node", lambda: len(tunnels.sessions))
        m.gauge("tunnels_max", "Hub tunnels this node admits", lambda: tunnels.max_tunnels)
        m.gauge(
            "pending_upgrades", "Connections still to authenticate", lambda: len(tunnels.pending)
        )
        m.gauge("control_links", "Short control links open", lambda: len(tunnels.control))
        m.gauge("draining", "1 while the node shuts down", lambda: float(self.draining))
        m.gauge(
            "healthy",
            "1 while /v1/health answers 200",
            lambda: float(self.health_problem() is None),
        )
        queued: dict[str, float] = {"n": 0.0}

        async def count_queued() -> None:
            hubs = await self.store.hubs_with_queued()
            counts = [await self.store.queue_count(h) for h in hubs[:1000]]
            queued["n"] = float(sum(counts))

        m.refresh_before_scrape(count_queued)
        m.gauge("queued_writes", "Phone writes waiting for their hub", lambda: queued["n"])
        phone, gate = self.phone, self.accounts.gate

        def rejected() -> dict[tuple[str, ...], float]:
            return {
                ("upgrade_per_address",): tunnels.pending.refused,
                ("upgrade_oldest_dropped",): tunnels.pending.evicted,
                ("control_links",): tunnels.control.refused,
                ("login_rate",): phone.login_rates.refused,
                ("claim_rate",): phone.claim_rates.refused,
                ("account_rate",): phone.rates.refused,
                ("password_gate",): gate.refused,
            }

        m.counter("rejected_by_limit", "Requests and connections a limit refused", rejected,
                  labels=("limit",))  # fmt: skip
        return m

    @web.middleware
    async def _observe(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Count and time each request by its route template (not its path: ids vary)."""
        timer = Timer()
        status = 500
        rid = logjson.new_request_id(request.headers.get("X-Request-ID"))
        logjson.request_id.set(rid)
        logjson.hub_id.set(request.match_info.get("hub_id", ""))
        try:
            response: web.StreamResponse = await handler(request)
            status = response.status
            if not response.prepared:
                response.headers["X-Request-ID"] = rid
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            info = request.match_info
            route = info.route.resource.canonical if info.route.resource else "unmatched"
            # A WebSocket's "answer" lasts as long as the socket: counted, not timed.
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            self.metrics.observe(
                request.method, route, status, None if upgrade else timer.seconds()
            )
            if not upgrade:
                logjson.access(request.method, route, status, timer.seconds())

    def health_problem(self) -> str | None:
        """None when this node should get traffic, else why not."""
        if self.draining:
            return "draining: this node is shutting down"
        return self.routing.health() or self._store_problem

    @doc(
        "This document: the relay's API in OpenAPI 3.1",
        auth="none",
        tag="meta",
        response={"type": "object"},
    )
    async def _openapi(self, request: web.Request) -> web.Response:
        """The OpenAPI document of the routes this node serves (built on first request)."""
        if self._openapi_doc is None:
            self._openapi_doc = openapi_document(request.app)
        return web.json_response(self._openapi_doc)

    @doc(
        "200 while this node should get traffic; 503 with the reason (draining, Redis or "
        "the database unreachable): a load balancer's health check",
        response=obj(
            {"status": STRING, "node": STRING, "tunnels": INTEGER, "reason": STRING},
            ["status", "node", "tunnels"],
        ),
        more={503: obj({"status": STRING, "reason": STRING}, ["status", "reason"])},
        auth="none",
        tag="meta",
    )
    async def _health(self, request: web.Request) -> web.Response:
        """200 while this node should get traffic; 503 with the reason otherwise.

        A load balancer's health check: draining, Redis or the database unreachable all take
        the node out of rotation.
        """
        try:
            await self.store.ping()
            self._store_problem = None
        except RelayError as err:
            self._store_problem = err.message
        problem = self.health_problem()
        body = {
            "status": "ok" if problem is None else ("draining" if self.draining else "unhealthy"),
            "node": self.routing.node_id,
            "tunnels": len(self.sessions),
        }
        if problem is not None:
            body["reason"] = problem
        return web.json_response(body, status=200 if problem is None else 503)

    @doc(
        "Where a hub should open its tunnel: the least-loaded healthy node, then fallbacks "
        '({"url": null} when no node has a public URL: dial the address you have)',
        response=obj(
            {
                "url": nullable(STRING),
                "node": STRING,
                "fallbacks": arr(STRING),
                "nodes": arr(obj({"healthy": BOOLEAN})),
            },
            ["url"],
        ),
        auth="none",
        tag="hub",
        errors=(503,),
    )
    async def _route(self, request: web.Request) -> web.Response:
        """`GET /v1/hub/route`: where a hub should open its tunnel.

        The least-loaded healthy node that admits tunnels, then the others as fallbacks. Nodes
        started without --node-url are not handed out; with none left the answer is
        `{"url": null}`: dial the address you already have.
        """
        if self.health_problem() is not None:
            raise Draining(f"this node cannot route hubs now ({self.health_problem()})")
        alive = [n for n in await self.routing.nodes() if n.healthy and not n.draining]
        nodes = sorted((n for n in alive if n.url), key=lambda n: (n.load, n.node_id))
        if not nodes:
            return web.json_response({"url": None, "fallbacks": [], "nodes": []})
        return web.json_response(
            {
                "url": tunnel_url_of(nodes[0].url),
                "node": nodes[0].node_id,
                "fallbacks": [tunnel_url_of(n.url) for n in nodes[1:]],
                "nodes": [n.to_dict() for n in nodes],
            }
        )


def tunnel_url_of(base_url: str) -> str:
    """The tunnel endpoint of a node's base URL (http -> ws, https -> wss)."""
    if base_url.startswith("https://"):
        base_url = "wss://" + base_url[8:]
    elif base_url.startswith("http://"):
        base_url = "ws://" + base_url[7:]
    return base_url.rstrip("/") + "/v1/hub/connect"
