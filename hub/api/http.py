"""aiohttp adapter: turns HTTP into ApiRequest values, and serves the live events WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, WSMsgType, web

from hub.api.browser import apply_session, refused, session_authorization
from hub.api.event_filter import EventFilter
from hub.api.limits import read_body
from hub.api.messages import ApiRequest, ApiResponse, error_body
from hub.errors import HubError
from hub.events import Event
from relay import logjson
from relay.metrics import Timer
from relay.webapp import WebApp
from relay.webapp.session import SessionRefused

if TYPE_CHECKING:
    from hub.app import Hub

_LOG = logging.getLogger(__name__)

WS_QUEUE = 500


def _json_response(resp: ApiResponse, request: web.BaseRequest | None = None) -> web.Response:
    if resp.body is None:
        out = web.Response(status=resp.status, headers=dict(resp.headers))
    else:
        out = web.Response(
            status=resp.status,
            body=resp.body_bytes(),
            content_type="application/json",
            headers=dict(resp.headers),
        )
    if request is not None:
        apply_session(out, request, resp)
    return out


def build_app(hub: Hub) -> web.Application:
    """The aiohttp application of one hub."""
    limit = hub.config.max_body_bytes
    # aiohttp's own limit sits above ours so that we answer with our JSON error instead.
    app = web.Application(client_max_size=limit + 1)
    sockets: set[web.WebSocketResponse] = set()

    async def close_sockets(_app: web.Application) -> None:
        # Without this, shutdown waits for each listener's timeout.
        for ws in list(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")

    app.on_shutdown.append(close_sockets)

    async def handle(request: web.Request) -> web.StreamResponse:
        timer = Timer()
        rid = logjson.new_request_id(request.headers.get("X-Request-ID"))
        logjson.request_id.set(rid)  # this request's task: every line it logs carries it
        response = await _handle(request)
        if not response.prepared:
            response.headers["X-Request-ID"] = rid
        route = hub.router.route_label(request.method, request.path)
        seconds = timer.seconds()
        hub.metrics.observe(request.method, route, response.status, seconds)
        logjson.access(request.method, route, response.status, seconds)
        return response

    async def _handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > limit:
            return _json_response(_too_large(limit))
        try:
            body = await read_body(request, limit, hub.config.body_timeout_s)
        except TimeoutError:
            slow = _json_response(_too_slow(hub.config.body_timeout_s))
            slow.force_close()  # the rest of that body must not be read as a next request
            return slow
        if len(body) > limit:
            return _json_response(_too_large(limit))
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            authorization = session_authorization(
                request, hub.router.needs_auth(request.method, request.path)
            )
        except SessionRefused as err:
            return _json_response(refused(err))
        from_cookie = authorization is not None and "authorization" not in headers
        if authorization is not None and from_cookie:
            headers["authorization"] = authorization
        api_request = ApiRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            cookie_session=from_cookie,
            remote=request.remote or "",
        )
        return _json_response(await hub.router.dispatch(api_request), request)

    async def events(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        if header is None and "token" in request.query:
            header = f"Bearer {request.query['token']}"  # browsers cannot set WS headers
        try:
            if header is None:  # the web app's cookie; the Origin check guards the upgrade
                header = session_authorization(request, needs_auth=True)
        except SessionRefused as err:
            return _json_response(refused(err))
        try:
            await hub.auth.verify(header)
            accept = EventFilter.from_query(request.query)
        except HubError as err:
            return _json_response(
                ApiResponse(err.status, error_body(err.status, err.message, err.details))
            )
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024)
        await ws.prepare(request)
        sockets.add(ws)
        stream = hub.bus.stream(WS_QUEUE, accept)
        reader = asyncio.create_task(_drain_incoming(ws))
        getter: asyncio.Task[Event] | None = None
        try:
            await ws.send_json({"type": "hello", "hub_id": hub.hub_id})
            reported_drops = 0
            while not ws.closed:
                getter = asyncio.create_task(stream.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                if stream.dropped != reported_drops:
                    # A slow client loses the oldest events; tell it so it can re-read state.
                    await ws.send_json(
                        {"type": "overflow", "dropped": stream.dropped - reported_drops}
                    )
                    reported_drops = stream.dropped
                await ws.send_json(getter.result().to_dict())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            sockets.discard(ws)
            stream.close()
            for task in (reader, getter):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            await ws.close()
        return ws

    app.router.add_get("/api/v1/events", events)
    app.router.add_get("/metrics", hub.metrics.handle)
    # The phone web app on the LAN port (signed in with a pairing code): before the catch-all.
    WebApp("hub").add_routes(app)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    # Clients only listen; reading keeps pings answered and notices the close.
    async for msg in ws:
        if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
            break


def _too_slow(deadline: float) -> ApiResponse:
    return ApiResponse(
        408, error_body(408, f"the request body did not arrive within {deadline:g} s; retry")
    )


def _too_large(limit: int) -> ApiResponse:
    msg = f"request body is over the {limit // 1024} KiB limit; send less"
    return ApiResponse(413, error_body(413, msg))
