"""Phone API, live events: one WebSocket per phone and hub, fed by the routing's fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import WSCloseCode, WSMsgType, web

from relay.errors import NotFound
from relay.http_json import guard
from relay.openapi import doc
from relay.phone.context import MEMBERS_EVENT, PhonePart

PHONE_WS_QUEUE = 500
SUBSCRIBE_WAIT_S = 5.0
GONE = b"you are no longer a member of this hub"


class EventRoutes(PhonePart):
    """GET /v1/hubs/{hub_id}/events (WebSocket)."""

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount this part."""
        router.add_get("/v1/hubs/{hub_id}/events", guard(self.events))

    @doc(
        "The hub's live events (WebSocket of JSON messages): first "
        '{"type": "hello", "hub_id", "online"}, then the hub\'s events, "overflow" when some '
        'were dropped, and "members" when people join or leave. Closes with 1008 when the '
        "caller is no longer in the home or signed out",
        websocket=True,
        query={"token": "a bearer token, for clients that cannot set WebSocket headers"},
    )
    async def events(self, request: web.Request) -> web.StreamResponse:
        """Send the hub's events until either side closes; say when some were dropped."""
        ctx = self.ctx
        if "token" in request.query and "Authorization" not in request.headers:
            # Scripts' browsers cannot set WS headers; the web app's session cookie comes along
            # by itself (and the Origin check in `caller` keeps other sites' pages out).
            header = f"Bearer {request.query['token']}"
            account_id, token_hash = await ctx.accounts.authenticate(header)
        else:
            caller = await ctx.caller(request, limit=False)
            account_id, token_hash = caller.account_id, caller.token_hash
        hub_id = request.match_info["hub_id"]
        if not await ctx.owns(account_id, hub_id):
            raise NotFound(f"no hub {hub_id!r} in your account; GET /v1/hubs lists yours")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
        await ws.prepare(request)
        entry = (account_id, hub_id, token_hash, ws)
        ctx.sockets.add(entry)
        sub = ctx.routing.subscribe(hub_id, PHONE_WS_QUEUE)
        reader = asyncio.create_task(_drain_incoming(ws))
        try:
            # "hello" promises every later event: in a cluster, wait until they flow here.
            await ctx.routing.subscribed(sub, SUBSCRIBE_WAIT_S)
            online = await ctx.routing.is_online(hub_id)
            await ws.send_json({"type": "hello", "hub_id": hub_id, "online": online})
            reported = 0
            recheck_at = time.monotonic() + ctx.config.membership_recheck_s
            while not ws.closed:
                getter = asyncio.create_task(sub.get())
                done, _ = await asyncio.wait(
                    {getter, reader},
                    timeout=max(0.0, recheck_at - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    getter.cancel()
                    # The "members" event is the fast path; this is the safety net for one
                    # lost on the way (Redis pub/sub keeps nothing for a node reconnecting).
                    recheck_at = time.monotonic() + ctx.config.membership_recheck_s
                    if not await ctx.store.owns(account_id, hub_id):
                        ctx.forget_owner(account_id, hub_id)
                        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=GONE)
                        break
                    continue
                if getter not in done:
                    getter.cancel()
                    break
                if sub.dropped != reported:
                    await ws.send_json({"type": "overflow", "dropped": sub.dropped - reported})
                    reported = sub.dropped
                event = getter.result()
                if event.get("type") == MEMBERS_EVENT and account_id in event.get("removed", ()):
                    # Removed on this node or another: the socket closes now.
                    ctx.forget_owner(account_id, hub_id)
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=GONE)
                    break
                await ws.send_json(dict(event))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            ctx.sockets.discard(entry)
            sub.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await ws.close()
        return ws


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break
