"""Phone API, hubs: list, claim with a code, look at one, remove from the account."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from relay.errors import Invalid, NotFound, RateLimited
from relay.http_json import guard, read_json_object
from relay.openapi import BOOLEAN, INTEGER, NUMBER, STRING, arr, doc, nullable, obj, schema
from relay.phone.context import PhoneContext, PhonePart
from relay.store import OWNER

HUB = schema(
    "Hub",
    obj(
        {
            "hub_id": STRING,
            "name": STRING,
            "local_id": STRING,
            "online": BOOLEAN,
            "last_seen": nullable(NUMBER),
            "queued_writes": INTEGER,
            "role": {"enum": ["owner", "member"], "description": "the caller's role"},
        },
        ["hub_id", "name", "local_id", "online", "last_seen", "queued_writes"],
    ),
)


async def hub_summary(ctx: PhoneContext, hub_id: str, role: str | None = None) -> dict[str, Any]:
    """What the phone shows for one hub (with the caller's role when known)."""
    row = await ctx.store.hub(hub_id)
    if row is None:
        raise NotFound(f"no hub {hub_id!r} in your account")
    online = await ctx.routing.is_online(hub_id)
    summary: dict[str, Any] = {
        "hub_id": hub_id,
        "name": row.name,
        "local_id": row.local_id,
        "online": online,
        "last_seen": time.time() if online else row.last_seen,
        "queued_writes": await ctx.store.queue_count(hub_id),
    }
    if role is not None:
        summary["role"] = role
    return summary


class HubRoutes(PhonePart):
    """GET /v1/hubs, POST /v1/hubs/claim, GET and DELETE /v1/hubs/{hub_id}."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_get("/v1/hubs", guard(self.list_hubs))
        router.add_post("/v1/hubs/claim", guard(self.claim))
        router.add_get("/v1/hubs/{hub_id}", guard(self.get_hub))
        router.add_delete("/v1/hubs/{hub_id}", guard(self.unclaim))

    async def summary(self, hub_id: str, role: str | None = None) -> dict[str, Any]:
        """What the phone shows for one hub (with the caller's role when known)."""
        return await hub_summary(self.ctx, hub_id, role)

    @doc(
        "The caller's hubs, owned or as a member, with role, online and last_seen",
        response=obj({"hubs": arr(HUB)}, ["hubs"]),
    )
    async def list_hubs(self, request: web.Request) -> web.Response:
        """The caller's hubs, owned or as a member."""
        account_id = await self.ctx.account(request)
        rows = await self.ctx.store.account_hubs(account_id)
        hubs = [await self.summary(row.id, role) for row, _, role in rows]
        return web.json_response({"hubs": hubs})

    @doc(
        "Become the owner of a hub with the code it shows (`homehub relay-code`). 201 when "
        "claimed, 200 when it was already yours, 409 when another account owns it (join by "
        "the owner's invitation), 404 for an unknown, used or expired code",
        body=obj({"code": STRING}, ["code"]),
        response=HUB,
        status=201,
        errors=(404, 409, 422),
    )
    async def claim(self, request: web.Request) -> web.Response:
        """Become the owner of a hub with the code it shows (201; 200 if it is already yours;
        409 when another account owns it)."""
        account_id = await self.ctx.account(request)
        if not self.ctx.claim_rates.allow(account_id):
            raise RateLimited("too many claim attempts; wait a minute and check the code")
        data = await read_json_object(request)
        code = data.get("code")
        if not isinstance(code, str) or not code:
            raise Invalid('send {"code": "..."}: the code the hub shows')
        hub_id, new = await self.ctx.accounts.claim(account_id, code)
        role = await self.ctx.store.role(account_id, hub_id)
        return web.json_response(await self.summary(hub_id, role), status=201 if new else 200)

    @doc("One of the caller's hubs", response=HUB)
    async def get_hub(self, request: web.Request) -> web.Response:
        """One of the caller's hubs."""
        _, hub_id, role = await self.ctx.role(request)
        return web.json_response(await self.summary(hub_id, role))

    @doc(
        "The owner removes the hub from the relay account: every member goes too and every "
        "open event socket closes. A member's DELETE removes only their own membership "
        "(leaves the home), like DELETE /v1/hubs/{hub_id}/members/me",
        status=204,
    )
    async def unclaim(self, request: web.Request) -> web.Response:
        """The owner gives the hub up (everyone goes, sockets close at once); a member leaves."""
        ctx = self.ctx
        account_id, hub_id, role = await ctx.role(request)
        if role != OWNER:
            await ctx.store.remove_claim(account_id, hub_id)
            await ctx.members_left(hub_id, [account_id], "you left this home")
            return web.Response(status=204)
        removed = await ctx.store.unclaim_hub(hub_id)
        await ctx.members_left(hub_id, removed, "the hub was removed from your account")
        return web.Response(status=204)
