"""Errors of the TUI and its hub client.

TuiError
 +-- HubUnreachable   no answer from the hub (connection refused, timeout); retry later
 +-- ApiError         the hub answered with an error status (`status`, `message`, `details`)
      +-- AuthRequired    401/403: the token is missing, wrong or revoked; pair again
      +-- NotSupported    404 for a whole feature (this hub is older or lacks the component)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TuiError(Exception):
    """Root of every error the TUI raises."""


class HubUnreachable(TuiError):
    """The hub did not answer; it may be down or on another address."""


class ApiError(TuiError):
    """The hub answered with an error."""

    def __init__(self, status: int, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details: Mapping[str, Any] = details or {}


class AuthRequired(ApiError):
    """The hub wants a valid token: pair with `homehub pair` or pass --token."""


class NotSupported(ApiError):
    """This hub has no such endpoint (a feature it does not have yet)."""
