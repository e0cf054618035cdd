"""Errors of the relay. Each maps to one HTTP status in the phone API.

RelayError
 ├── NotFound        no such hub/device/session in *your* account (404; also for other accounts')
 ├── Invalid         a request that breaks a rule (422) / BadRequest (400)
 ├── Unauthorized    missing, bad or expired session token; wrong password (401)
 ├── Forbidden       signed in, but not allowed: a member managing a hub, a cookie without
 │                   its CSRF token or from another origin (403)
 ├── Conflict        e-mail already registered; hub already claimed by another account (409)
 ├── RateLimited     too many requests for this account (429)
 ├── HubOffline      the hub is not connected (503)
 ├── HubBusy         too many requests in flight for this hub (503)
 ├── HubTimeout      the hub did not answer in time (504)
 └── Draining        this node is shutting down (503)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class RelayError(Exception):
    """Root of relay errors; `status` is the HTTP status, `message` says what to do."""

    status = 500

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class NotFound(RelayError):
    """Nothing by that id in the caller's account."""

    status = 404


class BadRequest(RelayError):
    """Malformed request (not JSON, missing field)."""

    status = 400


class Invalid(RelayError):
    """Well-formed but not acceptable."""

    status = 422


class Unauthorized(RelayError):
    """Missing or bad credentials."""

    status = 401


class Forbidden(RelayError):
    """Signed in, but this is not yours to do."""

    status = 403


class Conflict(RelayError):
    """Already exists."""

    status = 409


class RateLimited(RelayError):
    """Too many requests; retry after a moment."""

    status = 429


class HubOffline(RelayError):
    """The hub is not connected to the relay right now."""

    status = 503


class HubBusy(RelayError):
    """The hub has too many requests in flight."""

    status = 503


class HubTimeout(RelayError):
    """The hub did not answer in time."""

    status = 504


class Draining(RelayError):
    """The relay node is shutting down."""

    status = 503
