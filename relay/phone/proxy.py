"""Phone API, the hub's own API proxied through its tunnel: /v1/hubs/{hub_id}/api/..."""

from __future__ import annotations

from aiohttp import web

from relay import protocol as p
from relay.errors import BadRequest, Invalid
from relay.http_json import guard
from relay.openapi import ANY_OBJECT, doc
from relay.phone.context import PhonePart


class ProxyRoutes(PhonePart):
    """Any method on /v1/hubs/{hub_id}/api/{tail} becomes /api/v1/{tail} on the hub."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_route("*", "/v1/hubs/{hub_id}/api/{tail:.*}", guard(self.proxy))

    @doc(
        "The hub's own API, as the caller (any method): /v1/hubs/{hub_id}/api/{tail} is "
        "/api/v1/{tail} on the hub, answered through its tunnel",
        response=ANY_OBJECT,
        errors=(400, 422, 503, 504),
    )
    async def proxy(self, request: web.Request) -> web.Response:
        """Forward one request, as the caller's account, and return the hub's answer."""
        ctx = self.ctx
        account_id, hub_id = await ctx.owned(request)
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
        resp = await ctx.routing.call(
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
            ctx.config.request_timeout_s,
        )
        if resp.body is None:
            return web.Response(status=resp.status)
        return web.json_response(resp.body, status=resp.status)
