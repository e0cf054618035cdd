"""Errors of the hub package. The API maps each class to one HTTP status (hub/api/errors.py).

HubError
 ├── NotFound            an id that does not exist (404)
 ├── Invalid             a request that breaks a rule; the message says which (422)
 │    └── ReadOnlyProperty
 ├── Conflict            a per-key version check failed, or an idempotency key was reused (409)
 ├── Unauthorized        missing, bad, expired or revoked token (401)
 ├── Forbidden           allowed to others, not to this caller (e.g. LAN-only actions) (403)
 ├── RateLimited         too many attempts; retry later (429)
 ├── PayloadTooLarge     a body over the limit (413)
 ├── Unavailable         the hub cannot do this now (503)
 ├── ConfigError         the configuration file or environment is wrong (startup)
 └── CannotListen        the API's address or port cannot be bound (startup)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HubError(Exception):
    """Root of all hub errors. `details` travels to the API client as JSON."""

    status = 500

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})


class NotFound(HubError):
    """No such device, token, command, rule or route."""

    status = 404


class Invalid(HubError):
    """The request is well-formed but breaks a rule (wrong type, unknown property ...)."""

    status = 422


class ReadOnlyProperty(Invalid):
    """A desired write names a property the device only reports (a sensor reading)."""


class Conflict(HubError):
    """A per-key version is stale, or an idempotency key was reused with another request."""

    status = 409


class Unauthorized(HubError):
    """Missing, malformed, unknown or revoked bearer token."""

    status = 401


class Forbidden(HubError):
    """The caller is known but may not do this (e.g. a LAN-only action through the relay)."""

    status = 403


class RateLimited(HubError):
    """Too many attempts (e.g. pairing-code guesses); `retry_after` seconds, when known."""

    status = 429
    retry_after: float | None = None


class PayloadTooLarge(HubError):
    """Request body over the configured limit."""

    status = 413


class Unavailable(HubError):
    """The hub cannot serve this right now (shutting down, integration not loaded)."""

    status = 503


class ConfigError(HubError):
    """Configuration file or environment variable is wrong; the message names it."""


class CannotListen(HubError):
    """The API cannot listen on its address (port taken, not this machine's address)."""

    status = 500
