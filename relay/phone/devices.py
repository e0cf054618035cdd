"""Phone API, devices: the cached device records, desired writes (queued while the hub is away)
and the queue's history."""

from __future__ import annotations

import secrets
import time

from aiohttp import web

from relay.errors import HubOffline, Invalid, NotFound, RateLimited
from relay.http_json import guard, read_json_object
from relay.openapi import ANY_OBJECT, BOOLEAN, INTEGER, NUMBER, STRING, arr, doc, obj, schema
from relay.phone.context import PhonePart

MAX_KEY = 150


DEVICE = schema(
    "Device",
    {
        **ANY_OBJECT,
        "description": "The hub's device record (see the hub's API) plus synced_at, version",
    },
)
SENT = obj(
    {"command_id": STRING, "version": INTEGER, "replayed": BOOLEAN},
    ["command_id", "replayed"],
)
QUEUED = obj(
    {"queued": BOOLEAN, "id": STRING, "expires_at": NUMBER, "hub_online": BOOLEAN},
    ["queued", "id", "expires_at", "hub_online"],
)
QUEUE_ITEM = schema(
    "QueuedWrite",
    obj(
        {
            "id": STRING,
            "device_id": STRING,
            "values": ANY_OBJECT,
            "idempotency_key": STRING,
            "created": NUMBER,
            "expires_at": NUMBER,
            "status": {"enum": ["queued", "delivered", "rejected", "expired"]},
            "result": {},
        },
        ["id", "device_id", "values", "created", "expires_at", "status"],
    ),
)


class DeviceRoutes(PhonePart):
    """GET /v1/hubs/{hub_id}/devices[/{device_id}], PUT .../desired, GET .../queue."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_get("/v1/hubs/{hub_id}/devices", guard(self.devices))
        router.add_get("/v1/hubs/{hub_id}/devices/{device_id}", guard(self.device))
        router.add_put("/v1/hubs/{hub_id}/devices/{device_id}/desired", guard(self.desired))
        router.add_get("/v1/hubs/{hub_id}/queue", guard(self.queue))

    @doc(
        "Every device of the hub as last synced (also while the hub is offline: "
        "`synced_at` says how old), and whether the hub is online",
        response=obj({"hub_online": BOOLEAN, "devices": arr(DEVICE)}, ["hub_online", "devices"]),
    )
    async def devices(self, request: web.Request) -> web.Response:
        """Every device of the hub as last synced, and whether the hub is online."""
        ctx = self.ctx
        _, hub_id = await ctx.owned(request)
        online = await ctx.routing.is_online(hub_id)
        devices = await ctx.shadows.devices(hub_id)
        return web.json_response(
            {
                "hub_online": online,
                "devices": [
                    {**c.device, "synced_at": c.updated, "version": c.version}
                    for _, c in sorted(devices.items())
                ],
            }
        )

    @doc("One device as last synced", response=DEVICE)
    async def device(self, request: web.Request) -> web.Response:
        """One device as last synced."""
        _, hub_id = await self.ctx.owned(request)
        device_id = request.match_info["device_id"]
        cached = (await self.ctx.shadows.devices(hub_id)).get(device_id)
        if cached is None:
            raise NotFound(f"no device {device_id!r} on this hub")
        return web.json_response({**cached.device, "synced_at": cached.updated})

    @doc(
        "Ask a device for new values (202 either way): through to the hub when it is online "
        "(the hub's answer: the command's id, and `replayed` for a retried Idempotency-Key), "
        "else queued for it until `ttl_s` (default the relay's queue TTL)",
        body=obj({"values": ANY_OBJECT, "ttl_s": NUMBER}, ["values"]),
        response={"oneOf": [SENT, QUEUED]},
        status=202,
        errors=(404, 409, 422, 503, 504),
        headers={"Idempotency-Key": "a retry with the same key is applied once"},
    )
    async def desired(self, request: web.Request) -> web.Response:
        """Write desired values: through to the hub when it is online, else queued (202)."""
        ctx = self.ctx
        account_id, hub_id = await ctx.owned(request)
        device_id = request.match_info["device_id"]
        body = await read_json_object(request)
        if not isinstance(body.get("values"), dict) or not body["values"]:
            raise Invalid('send {"values": {property: value}}')
        key = request.headers.get("Idempotency-Key") or secrets.token_urlsafe(16)
        if not 0 < len(key) <= MAX_KEY:
            raise Invalid(f"Idempotency-Key must be 1 to {MAX_KEY} characters")
        # Namespaced per account so two accounts' keys can never collide on the hub.
        hub_key = f"relay:{account_id}:{key}"
        online = await ctx.routing.is_online(hub_id)
        if online and await ctx.store.queue_count(hub_id) == 0:
            try:
                resp = await ctx.queue.forward(hub_id, account_id, device_id, body, hub_key)
            except HubOffline:
                pass
            else:
                return web.json_response(resp.body, status=resp.status)
        if await ctx.store.queue_count(hub_id) >= ctx.config.max_queue_per_hub:
            raise RateLimited(
                f"{ctx.config.max_queue_per_hub} writes already wait for this hub; "
                "wait until it is back online"
            )
        ttl = body.get("ttl_s")
        ttl_s = float(ttl) if isinstance(ttl, int | float) else ctx.config.queue_ttl_s
        if not 0 < ttl_s <= 30 * 86400:
            raise Invalid("ttl_s must be between 0 and 30 days (in seconds)")
        now = time.time()
        seq = await ctx.store.enqueue(
            hub_id, account_id, device_id, body, hub_key, now, now + ttl_s
        )
        if await ctx.routing.is_online(hub_id):
            ctx.queue.kick(hub_id)
        return web.json_response(
            {"queued": True, "id": f"q{seq}", "expires_at": now + ttl_s, "hub_online": online},
            status=202,
        )

    @doc(
        "The last 100 writes queued for the hub and what became of them",
        response=obj({"queue": arr(QUEUE_ITEM)}, ["queue"]),
    )
    async def queue(self, request: web.Request) -> web.Response:
        """The last 100 queued writes of the hub, whatever became of them."""
        _, hub_id = await self.ctx.owned(request)
        statuses = ("queued", "delivered", "rejected", "expired")
        items = await self.ctx.store.queued(hub_id, statuses)
        return web.json_response({"queue": [i.to_dict() for i in items[-100:]]})
