"""What the voice skills need from the relay: the account's devices and a way to write them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class HubDevices:
    """One hub of an account: is it connected, and its cached device JSON."""

    hub_id: str
    online: bool
    devices: Sequence[Mapping[str, Any]]


class ApplyStatus(StrEnum):
    """How a write ended."""

    SUCCESS = "success"  # the hub accepted it (its integration now applies it)
    QUEUED = "queued"  # the hub was offline; the relay keeps it until the hub returns
    ERROR = "error"  # refused or failed; see `reason`


class ApplyFailure(StrEnum):
    """Why a write failed, in terms the assistants can name."""

    NOT_FOUND = "not_found"  # no such device on the hub
    INVALID = "invalid"  # the hub rejected the value
    OFFLINE = "offline"  # hub or device unreachable
    BUSY = "busy"  # hub busy or timed out
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The outcome of `VoiceBackend.apply`."""

    status: ApplyStatus
    failure: ApplyFailure | None = None
    reason: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


class VoiceBackend(Protocol):
    """The relay as the voice skills see it; every call is scoped to one account."""

    async def hubs(self, account: str) -> Sequence[HubDevices]:
        """The hubs the account claimed, each with its cached devices."""

    async def apply(
        self,
        account: str,
        hub_id: str,
        device_id: str,
        values: Mapping[str, Any],
        idempotency_key: str,
    ) -> ApplyResult:
        """Write desired values to a device of one of the account's hubs."""
