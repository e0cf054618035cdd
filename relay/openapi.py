"""The relay's OpenAPI document, built from the routes the application actually has.

Each handler carries its own short description, next to its code:

    @doc("Invite an e-mail address to the home", body=obj({"email": STRING}, ["email"]),
         response=ref("Invitation"), status=201, errors=(403, 404, 409, 422))
    async def invite(self, request): ...

and shared shapes are named where they are produced: `schema("Invitation", obj({...}))`.
`openapi_document(app)` walks `app.router`: every /v1 route becomes an operation with its
path parameters, authentication, request body and answers. A route without `@doc` is listed
with "undocumented" (tests/relay/test_relay_openapi.py fails on it, so the document cannot rot).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web

# session: bearer token or cookie + CSRF; none: anyone; vault: the backup vault's signature;
# hub: a hub's signed handshake; oauth: a voice assistant's OAuth token or client.
Auth = Literal["session", "none", "vault", "hub", "oauth"]
F = TypeVar("F", bound=Callable[..., Any])

STRING: dict[str, Any] = {"type": "string"}
NUMBER: dict[str, Any] = {"type": "number"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}

# Named shapes, registered by the modules that produce them (see `schema`).
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": INTEGER, "message": STRING},
            }
        },
    }
}

_STATUS_TEXT = {
    400: "Malformed request: not JSON, or a field of the wrong form",
    401: "No valid session: sign in (POST /v1/sessions)",
    403: "Signed in but not allowed (a member managing the home; a cookie without its CSRF "
    "token or from another origin)",
    404: "Nothing by that id for this account (other accounts' hubs answer the same)",
    409: "Conflicts with what exists",
    413: "The body is too large",
    422: "Well-formed but not acceptable",
    429: "Too many requests; retry after a moment",
    503: "The hub is offline or busy, or this node is draining",
    504: "The hub did not answer in time",
}


@dataclass(frozen=True)
class RouteDoc:
    """What one route takes and answers (for the OpenAPI document)."""

    summary: str
    body: Mapping[str, Any] | None = None
    response: Mapping[str, Any] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: Auth = "session"
    query: Mapping[str, str] = field(default_factory=dict)  # name -> description
    websocket: bool = False
    tag: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # request headers it reads
    more: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)  # other answers


def doc(
    summary: str,
    *,
    body: Mapping[str, Any] | None = None,
    response: Mapping[str, Any] | None = None,
    status: int = 200,
    errors: Iterable[int] = (),
    auth: Auth = "session",
    query: Mapping[str, str] | None = None,
    websocket: bool = False,
    tag: str = "",
    headers: Mapping[str, str] | None = None,
    more: Mapping[int, Mapping[str, Any]] | None = None,
) -> Callable[[F], F]:
    """Describe a handler for the OpenAPI document (kept on the function as `__openapi__`)."""

    def mark(handler: F) -> F:
        handler.__openapi__ = RouteDoc(  # type: ignore[attr-defined]
            summary,
            body,
            response,
            status,
            tuple(errors),
            auth,
            dict(query or {}),
            websocket,
            tag,
            dict(headers or {}),
            dict(more or {}),
        )
        return handler

    return mark


def schema(name: str, shape: dict[str, Any]) -> dict[str, Any]:
    """Register a named shape (components/schemas); returns a reference to it."""
    SCHEMAS[name] = shape
    return ref(name)


def ref(name: str) -> dict[str, Any]:
    """A reference to a named shape."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(
    properties: Mapping[str, Mapping[str, Any]], required: Iterable[str] = ()
) -> dict[str, Any]:
    """A JSON object with these properties (others allowed: answers may grow)."""
    out: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        out["required"] = list(required)
    return out


def arr(items: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON array of one shape."""
    return {"type": "array", "items": dict(items)}


def nullable(shape: Mapping[str, Any]) -> dict[str, Any]:
    """A shape, or null."""
    return {"anyOf": [dict(shape), {"type": "null"}]}


def route_doc(route: web.AbstractRoute) -> RouteDoc | None:
    """The description a route's handler carries, if any."""
    found = getattr(route.handler, "__openapi__", None)
    return found if isinstance(found, RouteDoc) else None


def api_routes(app: web.Application) -> list[tuple[str, str, web.AbstractRoute]]:
    """(method, path, route) of every /v1 route (HEAD twins of GETs left out)."""
    out = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith("/v1/") or route.method == "HEAD":
            continue
        out.append((route.method, path, route))
    return out


def _path_and_params(path: str) -> tuple[str, list[dict[str, Any]]]:
    """aiohttp's `{name:regex}` as OpenAPI's `{name}`, and the path parameters."""
    params = []
    for name in re.findall(r"\{(\w+)(?::[^}]*)?\}", path):
        params.append({"name": name, "in": "path", "required": True, "schema": STRING})
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", r"{\1}", path), params


def _json(shape: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(shape)}}


def _operation(method: str, path: str, route_doc_: RouteDoc | None) -> dict[str, Any]:
    openapi_path, params = _path_and_params(path)
    d = route_doc_ or RouteDoc("undocumented")
    op: dict[str, Any] = {
        "summary": d.summary,
        "operationId": re.sub(r"\W+", "_", f"{method.lower()}{openapi_path}").strip("_"),
        "tags": [d.tag or openapi_path.split("/")[2]],
    }
    params += [
        {"name": n, "in": "query", "required": False, "schema": STRING, "description": text}
        for n, text in d.query.items()
    ]
    params += [
        {"name": n, "in": "header", "required": False, "schema": STRING, "description": text}
        for n, text in d.headers.items()
    ]
    if params:
        op["parameters"] = params
    if d.body is not None:
        op["requestBody"] = {"required": True, "content": _json(d.body)}
    responses: dict[str, Any] = {}
    if d.websocket:
        responses["101"] = {"description": "Switching to a WebSocket (JSON messages)"}
    elif d.status == 204 or d.response is None:
        responses[str(d.status)] = {"description": "Done" if d.status == 204 else "OK"}
    else:
        responses[str(d.status)] = {"description": "OK", "content": _json(d.response)}
        if d.status == 201:
            responses["200"] = {
                "description": "Already there (same shape)",
                "content": _json(d.response),
            }
    for status, shape in d.more.items():
        responses[str(status)] = {"description": "OK", "content": _json(shape)}
    errors = set(d.errors)
    if d.auth == "session":
        op["security"] = [{"bearer": []}, {"cookie": [], "csrf": []}]
        errors |= {401, 429}
        if method not in ("GET", "HEAD"):
            errors.add(403)
    elif d.auth == "vault":
        op["security"] = [{"vault": []}]
        errors.add(401)
    elif d.auth == "oauth":
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = []
    if "{hub_id}" in openapi_path:
        errors.add(404)
    if d.body is not None:
        errors |= {400, 413}
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": _json(ref("Error")),
        }
    op["responses"] = responses
    return op


def openapi_document(app: web.Application, version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 description of every /v1 route of `app`."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route in api_routes(app):
        openapi_path, _ = _path_and_params(path)
        methods = ["get", "put", "post", "delete", "patch"] if method == "*" else [method.lower()]
        for m in methods:
            paths.setdefault(openapi_path, {})[m] = _operation(m.upper(), path, route_doc(route))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "homehub relay",
            "version": version,
            "description": (
                "The relay's API for phones and scripts. Sign in with POST /v1/sessions: "
                "scripts send the token back as `Authorization: Bearer <token>`; the web app "
                'asks for `"cookie": true` and gets an HttpOnly session cookie plus a CSRF '
                "token to send as `X-CSRF-Token` on every request that changes something. "
                'Every error is JSON: {"error": {"status", "message"}}.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(SCHEMAS.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token from POST /v1/sessions",
                },
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "homehub_relay_session",
                    "description": "HttpOnly, SameSite=Strict; POST /v1/sessions with "
                    '"cookie": true sets it',
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "With the cookie, on every request but GET: the `csrf` "
                    "of the session JSON",
                },
                "vault": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Vault <unix time>.<signature> (recovery-key based)",
                },
            },
        },
    }
