"""Proactive Alexa ChangeReports: built here, sent behind an interface.

Sending needs Login-with-Amazon credentials of a published skill (client id and secret to
exchange the AcceptGrant code for event-gateway tokens) which cannot exist in this project,
so the default sender only logs; tests use the recording one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

_LOG = logging.getLogger(__name__)


class ChangeReportSender(Protocol):
    """Where proactive Alexa events go."""

    async def accept_grant(self, account: str, code: str) -> bool:
        """Keep the grant code of an account (to exchange for event-gateway tokens)."""

    async def event_token(self, account: str) -> str | None:
        """The account's event-gateway token, or None when it granted nothing (no reports)."""

    async def send(self, account: str, message: Mapping[str, Any]) -> None:
        """Deliver one ChangeReport of the account to Alexa's event gateway."""


class LoggingChangeReportSender:
    """The default: accepts grants, logs reports, sends nothing (no Amazon credentials)."""

    async def accept_grant(self, account: str, code: str) -> bool:
        """Accept, so account linking completes; proactive reports stay off."""
        _LOG.info("Alexa granted event access for account %s; no LWA client configured, "
                  "so ChangeReports are only logged", account)
        return True

    async def event_token(self, account: str) -> str | None:
        """None: without an LWA client no grant can become a token, so nothing is built."""
        return None

    async def send(self, account: str, message: Mapping[str, Any]) -> None:
        """Log the report instead of sending it."""
        endpoint = message.get("event", {}).get("endpoint", {}).get("endpointId")
        _LOG.debug("ChangeReport for %s (account %s) not sent: no event gateway", endpoint,
                   account)


class RecordingChangeReportSender:
    """Keeps every grant and report in memory (tests)."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.grants: list[tuple[str, str]] = []
        self.sent: list[tuple[str, Mapping[str, Any]]] = []

    async def accept_grant(self, account: str, code: str) -> bool:
        """Record the grant; answer as configured."""
        self.grants.append((account, code))
        return self.accept

    async def event_token(self, account: str) -> str | None:
        """A stand-in token for accounts that granted access."""
        granted = self.accept and any(a == account for a, _ in self.grants)
        return f"event-token-{account}" if granted else None

    async def send(self, account: str, message: Mapping[str, Any]) -> None:
        """Record the report."""
        self.sent.append((account, message))
