"""Routes with pydantic models: validation, dispatch, error mapping and the OpenAPI document."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.api.messages import ApiRequest, ApiResponse, error_body
from hub.errors import HubError, NotFound
from relay.protocol import JsonTooDeep, loads_bounded

_LOG = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


@dataclass(slots=True)
class Call:
    """What a handler receives: path params, validated query and body, who is calling."""

    request: ApiRequest
    params: dict[str, str]
    query: Any
    body: Any
    principal: str

    def header(self, name: str) -> str | None:
        """A request header (case-insensitive)."""
        return self.request.headers.get(name.lower())


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    """One endpoint."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    tag: str = "hub"
    responses: Mapping[int, str] = field(default_factory=dict)
    #: Keys of the GET answer a client may send back unchanged (GET, edit, PUT): dropped before
    #: the body is validated, so a strict model does not refuse what the hub itself added.
    read_only: tuple[str, ...] = ()
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


def _pydantic_message(err: ValidationError) -> tuple[str, dict[str, str]]:
    fields: dict[str, str] = {}
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "body"
        fields[where] = e["msg"]
    return "; ".join(f"{k}: {v}" for k, v in fields.items()), fields


class Router:
    """Holds routes; `dispatch` runs one request through auth, validation and the handler."""

    def __init__(self, authenticate: Callable[[str | None], Awaitable[str]]) -> None:
        self.routes: list[Route] = []
        self._authenticate = authenticate

    def add(self, method: str, path: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Decorator registering a handler under API_PREFIX + path."""

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), API_PREFIX + path, handler, summary, **kw))
            return handler

        return register

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = []
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict()
            allowed.append(route.method)
        if allowed:
            raise _MethodNotAllowed(
                f"{method} is not allowed here; use {', '.join(allowed)}", allowed
            )
        raise NotFound(f"no endpoint {path}; see {API_PREFIX}/openapi.json")

    def route_label(self, method: str, path: str) -> str:
        """The route template a request is for (metrics label; ids in paths would explode it)."""
        for route in self.routes:
            if route.method == method.upper() and route.pattern.match(path):
                return route.path
        return "unmatched"

    def needs_auth(self, method: str, path: str) -> bool:
        """Does this request's endpoint need a token? (Unknown endpoints: no, they answer 404.)"""
        for route in self.routes:
            if route.method == method.upper() and route.pattern.match(path):
                return route.auth
        return False

    async def dispatch(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; every failure becomes a JSON error with a clear message."""
        try:
            route, params = self._match(request.method.upper(), request.path)
            principal = request.trusted_principal
            if principal is None:
                principal = (
                    await self._authenticate(request.headers.get("authorization"))
                    if route.auth
                    else ""
                )
            query = self._parse_query(route, request.query)
            body = self._parse_body(route, request.body)
            result = await route.handler(Call(request, params, query, body, principal))
        except HubError as err:
            wait = getattr(err, "retry_after", None)
            headers = {"Retry-After": str(math.ceil(wait))} if wait else {}
            return ApiResponse(
                err.status, error_body(err.status, err.message, err.details), headers
            )
        except _MethodNotAllowed as err:
            # RFC 9110: a 405 names the methods the resource has (clients and scanners read it).
            allow = ", ".join(sorted(set(err.allowed)))
            return ApiResponse(405, error_body(405, err.message), {"Allow": allow})
        except Exception:
            _LOG.exception("internal error serving %s %s", request.method, request.path)
            return ApiResponse(500, error_body(500, "internal error; the hub log has details"))
        if isinstance(result, ApiResponse):
            return result
        return ApiResponse(route.status, result)

    @staticmethod
    def _parse_query(route: Route, query: Mapping[str, str]) -> Any:
        if route.query is None:
            return None
        try:
            return route.query.model_validate(dict(query))
        except ValidationError as err:
            msg, fields = _pydantic_message(err)
            raise _BadRequest(f"bad query: {msg}", details={"fields": fields}) from None

    @staticmethod
    def _parse_body(route: Route, raw: bytes) -> Any:
        if route.body is None:
            return None
        if not raw.strip():
            data: Any = {}
        else:
            try:
                data = loads_bounded(raw)
            except JsonTooDeep as err:
                raise _BadRequest(str(err)) from None
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise _BadRequest(f"the body is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise _BadRequest("the body must be a JSON object")
        for key in route.read_only:
            data.pop(key, None)
        try:
            return route.body.model_validate(data)
        except ValidationError as err:
            msg, fields = _pydantic_message(err)
            raise _Unprocessable(msg, details={"fields": fields}) from None

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        """An OpenAPI 3.1 document generated from the routes and their models."""
        components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
        paths: dict[str, Any] = {}

        def schema_of(model: type[BaseModel]) -> dict[str, Any]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        for route in self.routes:
            op: dict[str, Any] = {
                "summary": route.summary,
                "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', route.path)}",
                "tags": [route.tag],
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in re.findall(r"\{(\w+)\}", route.path)
                ],
                "responses": {
                    str(route.status): {"description": "success", "content": _json_any()},
                    "default": {"description": "error", "content": _json_ref("Error")},
                },
            }
            if route.status == 204:
                op["responses"]["204"] = {"description": "done"}
            for status, description in route.responses.items():
                op["responses"][str(status)] = {
                    "description": description,
                    "content": _json_any() if status < 400 else _json_ref("Error"),
                }
            if route.query is not None:
                qs = route.query.model_json_schema()
                required = set(qs.get("required", []))
                for name, prop in qs.get("properties", {}).items():
                    op["parameters"].append(
                        {
                            "name": name,
                            "in": "query",
                            "required": name in required,
                            "schema": _simplify(prop),
                        }
                    )
            if route.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schema_of(route.body)}},
                }
            if route.auth:
                # Bearer for the TUI, CLI and scripts; the web app's HttpOnly cookie (with its
                # X-CSRF-Token header on anything but GET) for browsers.
                op["security"] = [{"bearer": []}, {"session": []}]
                op["responses"].setdefault(
                    "403",
                    {
                        "description": "a cookie session without its X-CSRF-Token header, "
                        "or from another site's page",
                        "content": _json_ref("Error"),
                    },
                )
                op["responses"]["401"] = {
                    "description": "missing, bad or revoked token",
                    "content": _json_ref("Error"),
                }
            if route.method == "PUT" and "desired" in route.path:
                op["parameters"].append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                    }
                )
            oa_path = route.path
            paths.setdefault(oa_path, {})[route.method.lower()] = op
        return {
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "homehub_session"},
                },
            },
        }


def _simplify(prop: dict[str, Any]) -> dict[str, Any]:
    prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
    return prop


def _json_any() -> dict[str, Any]:
    return {"application/json": {"schema": {}}}


def _json_ref(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


class _BadRequest(HubError):
    status = 400


class _Unprocessable(HubError):
    status = 422


class _MethodNotAllowed(Exception):
    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.allowed = allowed
