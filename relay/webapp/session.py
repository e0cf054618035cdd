"""Browser sessions, shared by the relay and the hub: an HttpOnly cookie and a CSRF token.

The web app never sees the session token: the server keeps it in an HttpOnly, SameSite=Strict
cookie (Secure unless the page came over plain HTTP from loopback or the LAN, where browsers
would drop a Secure cookie). Requests that change something must also carry `X-CSRF-Token`,
which the server derives from the session token and hands to the app in JSON; a page on
another origin can neither read it nor make the browser add it. Bearer-token clients (the TUI,
the CLI, scripts) do not use cookies and are unaffected.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionRefused(Exception):
    """A cookie-authenticated request that fails the CSRF or Origin check (HTTP 403)."""

    status = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived, so nothing extra is stored per session."""
    return hashlib.sha256(f"homehub-csrf:{session_token}".encode()).hexdigest()[:32]


def is_loopback(request: web.BaseRequest) -> bool:
    """Did the request come from this machine?"""
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def is_https(request: web.BaseRequest) -> bool:
    """Was the page loaded over HTTPS (directly, or by a proxy that says so)?"""
    if request.secure:
        return True
    return request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def set_session_cookie(
    response: web.StreamResponse,
    request: web.BaseRequest,
    name: str,
    token: str,
    max_age_s: int,
) -> None:
    """Put the session token in an HttpOnly, SameSite=Strict cookie."""
    response.set_cookie(
        name,
        token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="Strict",
        # Browsers drop Secure cookies on plain http:// (except localhost): over HTTPS always
        # Secure; on plain HTTP (loopback, a hub's LAN address) they cannot be.
        secure=is_https(request),
    )


def clear_session_cookie(response: web.StreamResponse, name: str) -> None:
    """Tell the browser to forget the session cookie."""
    response.del_cookie(name, path="/")


def cookie_token(request: web.BaseRequest, name: str) -> str | None:
    """The session token from the cookie, if any."""
    value = request.cookies.get(name)
    return value or None


def check_cookie_request(request: web.BaseRequest, session_token: str) -> None:
    """Refuse a cookie-authenticated request from another origin or without the CSRF token.

    Call it only when the cookie (not an Authorization header) authenticates the request.
    WebSocket upgrades are GETs: the Origin check is what protects them.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        parts = urlsplit(origin)
        if parts.netloc.lower() != request.host.lower():
            raise SessionRefused(
                f"requests from {origin} may not use this site's session; "
                "open the app from its own address"
            )
    if request.method.upper() in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(session_token).encode()):
        raise SessionRefused(
            f"missing or wrong {CSRF_HEADER} header; reload the app and sign in again"
        )
