"""Phone API, Web Push: the relay's VAPID public key, and the browser's subscriptions.

The pushes themselves come from relay/push.py when a hub sends a `notification` event.
"""

from __future__ import annotations

import time

from aiohttp import web

from relay.errors import BadRequest, Invalid, NotFound
from relay.http_json import guard, read_json_object
from relay.openapi import STRING, doc, obj, schema
from relay.phone.context import PhonePart
from relay.push import check_subscription
from relay.store import PushSubscription

SUBSCRIPTION = schema(
    "PushSubscription",
    {
        **obj(
            {
                "endpoint": {**STRING, "description": "the push service's URL (https)"},
                "expirationTime": {"anyOf": [{"type": "number"}, {"type": "null"}]},
                "keys": obj(
                    {
                        "p256dh": {**STRING, "description": "P-256 public key, base64url"},
                        "auth": {**STRING, "description": "16-byte auth secret, base64url"},
                    },
                    ["p256dh", "auth"],
                ),
            },
            ["endpoint", "keys"],
        ),
        "description": "The browser's PushSubscription.toJSON()",
    },
)


class PushRoutes(PhonePart):
    """GET /v1/push/key, POST and DELETE /v1/push/subscriptions."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_get("/v1/push/key", guard(self.key))
        router.add_post("/v1/push/subscriptions", guard(self.subscribe))
        router.add_delete("/v1/push/subscriptions", guard(self.unsubscribe))

    @doc(
        "The relay's VAPID public key: the browser's applicationServerKey (P-256, uncompressed,"
        " base64url). The same on every node",
        response=obj({"public_key": STRING}, ["public_key"]),
        auth="none",
    )
    async def key(self, request: web.Request) -> web.Response:
        """The VAPID public key (public: no sign-in needed)."""
        return web.json_response({"public_key": self.ctx.push_key()})

    @doc(
        "Push this browser the notifications of every home of the account (the "
        "PushSubscription JSON). 201 when new, 200 when it was known (moved to this account)",
        body=SUBSCRIPTION,
        response=obj({"endpoint": STRING}, ["endpoint"]),
        status=201,
        errors=(422,),
    )
    async def subscribe(self, request: web.Request) -> web.Response:
        """Store a browser's subscription for the caller's account."""
        ctx = self.ctx
        account_id = await ctx.account(request)
        endpoint, p256dh, auth = check_subscription(
            await read_json_object(request), ctx.config.push_allow_insecure_endpoints
        )
        known = any(
            s.endpoint == endpoint for s in await ctx.store.push_subscriptions_of(account_id)
        )
        cap = ctx.config.max_push_subscriptions
        sub = PushSubscription(endpoint, account_id, p256dh, auth, time.time())
        if not await ctx.store.add_push_subscription(sub, cap):
            raise Invalid(
                f"this account already has {cap} push subscriptions; turn notifications off "
                "in a browser you no longer use"
            )
        return web.json_response({"endpoint": endpoint}, status=200 if known else 201)

    @doc(
        "Stop pushing to this browser",
        body=obj({"endpoint": STRING}, ["endpoint"]),
        status=204,
        errors=(404,),
    )
    async def unsubscribe(self, request: web.Request) -> web.Response:
        """Forget one of the caller's subscriptions."""
        account_id = await self.ctx.account(request)
        endpoint = (await read_json_object(request)).get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise BadRequest('send {"endpoint": "..."}: the subscription\'s endpoint')
        if not await self.ctx.store.delete_push_subscription(endpoint, account_id):
            raise NotFound("no such push subscription for this account")
        return web.Response(status=204)
