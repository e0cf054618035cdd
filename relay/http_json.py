"""JSON errors and bodies for the relay's HTTP endpoints (phone API, hub admission).

Two layers: `guard` turns a handler's RelayError into its JSON answer, and the `json_errors`
middleware does the same for what aiohttp itself refuses (no such route 404, wrong method 405
with Allow, a body over the limit 413) and for a handler that fails unexpectedly (500), so no
answer of the relay is ever plain text or HTML.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from relay.errors import BadRequest, RelayError
from relay.protocol import MAX_BODY_BYTES, JsonTooDeep, loads_bounded

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LOG = logging.getLogger(__name__)


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """`{"error": {"status", "message"}}` with that HTTP status."""
    return web.Response(
        status=status,
        text=error_body(status, message),
        content_type="application/json",
        headers=headers,
    )


def error_body(status: int, message: str) -> str:
    """The JSON of an error answer (also written by the lean tunnel path, without aiohttp)."""
    return json.dumps({"error": {"status": status, "message": message}})


def guard(handler: Handler) -> Handler:
    """Relay errors become JSON. (Not a middleware: tunnels would carry its frame.)"""

    @functools.wraps(handler)  # keeps the handler's @doc for the OpenAPI document
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RelayError as err:
            headers = {"Retry-After": "1"} if err.status in (429, 503) else None
            return error_response(err.status, err.message, headers)

    return guarded


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or BadRequest saying what is wrong."""
    try:
        data = loads_bounded(await request.read())
    except JsonTooDeep as err:
        raise BadRequest(str(err)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadRequest(f"the body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _refusal_message(request: web.Request, err: web.HTTPException) -> str:
    if err.status == 404:
        return (
            f"no such route: {request.method} {request.path} "
            "(GET /v1/openapi.json lists the relay's API)"
        )
    if err.status == 405:
        allowed = ", ".join(sorted(getattr(err, "allowed_methods", ()) or ()))
        return f"{request.method} is not allowed on {request.path}; use {allowed or 'another'}"
    if err.status == 413:
        # aiohttp says "Maximum request body size N exceeded."; the limit is all it knows.
        found = re.search(r"size (\d+)", err.text or "")
        limit = int(found.group(1)) if found else MAX_BODY_BYTES
        return f"the request body is over {limit // 1024} KiB; send less"
    # A handler's own words (raise web.HTTPBadRequest(text=...)), else the status's name.
    text = err.text or ""
    if text and not text.startswith(f"{err.status}: "):
        return text
    return err.reason or "the request was refused"


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals and unexpected failures, as `{"error": {"status", "message"}}`."""
    try:
        return await handler(request)
    except web.HTTPException as err:
        if err.status < 400:
            raise  # redirects stay what they are
        headers = {
            k: v
            for k, v in err.headers.items()
            if k.lower() not in ("content-type", "content-length")
        }
        return error_response(err.status, _refusal_message(request, err), headers)
    except Exception:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise  # a socket may be open already: no HTTP answer can follow
        _LOG.exception("%s %s failed", request.method, request.path)
        return error_response(500, "the relay failed to answer; its log says why")
