"""Browser sessions on the hub's LAN HTTP port: the web app signs in with a pairing code.

`POST /api/v1/pair` with `cookie: true` keeps the new token in an HttpOnly, SameSite=Strict
cookie instead of handing it to page scripts; `GET /api/v1/session` tells the app who it is
(and the CSRF token it must send), `DELETE /api/v1/session` signs out by revoking the token.
A request carrying the cookie and no Authorization header is authenticated with the cookie's
token once `relay.webapp.session.check_cookie_request` accepts it (CSRF header, Origin); the
router then treats it like a bearer request, so every endpoint works the same for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from hub.api.messages import ApiResponse, error_body
from hub.api.router import Call, Router
from hub.errors import Forbidden, Unauthorized
from relay.webapp.session import (
    SessionRefused,
    check_cookie_request,
    clear_session_cookie,
    cookie_token,
    csrf_token,
    set_session_cookie,
)

if TYPE_CHECKING:
    from hub.app import Hub

COOKIE_NAME = "homehub_session"
#: Tokens do not expire on their own; the cookie lasts half a year, signing out revokes it.
COOKIE_MAX_AGE_S = 180 * 86400


def session_authorization(request: web.BaseRequest, needs_auth: bool) -> str | None:
    """The Authorization header to use for a request: its own, or one made from the cookie.

    Returns None when neither is there. Raises SessionRefused (403) when the cookie would
    authenticate a request that fails the CSRF or Origin check. Requests to endpoints that need
    no token (health, pairing) ignore the cookie, so a stale cookie never blocks pairing again.
    """
    header = request.headers.get("Authorization")
    if header is not None or not needs_auth:
        return header
    token = cookie_token(request, COOKIE_NAME)
    if token is None:
        return None
    check_cookie_request(request, token)
    return f"Bearer {token}"


def apply_session(response: web.StreamResponse, request: web.BaseRequest, api: ApiResponse) -> None:
    """Set or clear the session cookie as the handler asked."""
    if api.set_session is not None:
        set_session_cookie(response, request, COOKIE_NAME, api.set_session, COOKIE_MAX_AGE_S)
    elif api.clear_session:
        clear_session_cookie(response, COOKIE_NAME)


def refused(err: SessionRefused) -> ApiResponse:
    """The JSON error of a cookie request that failed the CSRF or Origin check."""
    return ApiResponse(err.status, error_body(err.status, err.message))


def check_same_origin(headers: Mapping[str, str]) -> None:
    """Refuse a browser pairing posted by a page of another site (Forbidden)."""
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return
    if urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
        raise Forbidden(
            f"a page on {origin} may not sign in to this hub; open the app from the hub's address"
        )


def session_of(call: Call) -> tuple[str, str]:
    """(token id, session token) of a cookie-authenticated call, else Unauthorized."""
    if not call.request.cookie_session:
        raise Unauthorized(
            "no browser session: sign in with POST /api/v1/pair and \"cookie\": true "
            "(bearer-token clients do not have one)"
        )
    _, _, token = call.request.headers.get("authorization", "").partition(" ")
    return call.principal, token.strip()


def session_body(hub: Hub, token_id: str, token: str) -> dict[str, Any]:
    """What the web app learns about its session (never the token itself)."""
    return {"hub_id": hub.hub_id, "token_id": token_id, "csrf": csrf_token(token)}


def add_session_routes(router: Router, hub: Hub) -> None:
    """GET and DELETE /api/v1/session."""
    add = router.add

    @add(
        "GET",
        "/session",
        "The browser session of the calling web app: hub, token id and CSRF token",
        tag="auth",
    )
    async def get_session(call: Call) -> Any:
        token_id, token = session_of(call)
        return session_body(hub, token_id, token)

    @add(
        "DELETE",
        "/session",
        "Sign the web app out: revoke its token and clear the cookie",
        status=204,
        tag="auth",
        responses={403: "missing X-CSRF-Token header or a request from another site"},
    )
    async def delete_session(call: Call) -> Any:
        token_id, _ = session_of(call)
        await hub.auth.revoke(token_id)
        return ApiResponse(204, clear_session=True)
