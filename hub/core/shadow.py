"""The device shadow: reported, desired, delta and versions. Pure logic, no I/O.

Versions: the document `version` counts every change; each key remembers the document version
at which it last changed (reported or desired). A client write may carry the per-key versions it
saw; it conflicts only when one of *those keys* changed since, never because another key moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from hub.errors import Conflict

_NONE_CONFIRMED: frozenset[str] = frozenset()  # most reports: shared, not a new set each


@dataclass(slots=True)
class Reported:
    """A value the device reported, and when."""

    value: Any
    ts: float
    version: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"value": self.value, "ts": self.ts, "version": self.version}


@dataclass(slots=True)
class Desired:
    """A value a client asked for that the device has not confirmed yet."""

    value: Any
    ts: float
    version: int
    command_id: str
    expires_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "value": self.value,
            "ts": self.ts,
            "version": self.version,
            "command_id": self.command_id,
            "expires_at": self.expires_at,
        }


class Shadow:
    """One device's shadow document."""

    __slots__ = ("desired", "device_id", "reported", "version")

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.version = 0
        self.reported: dict[str, Reported] = {}
        self.desired: dict[str, Desired] = {}

    def key_version(self, key: str) -> int:
        """The document version at which `key` last changed (0 if never)."""
        r = self.reported.get(key)
        d = self.desired.get(key)
        return max(r.version if r else 0, d.version if d else 0)

    def check_versions(self, versions: Mapping[str, int]) -> None:
        """Raise Conflict if any of these keys changed after the version the client saw."""
        stale = {k: self.key_version(k) for k, v in versions.items() if self.key_version(k) > v}
        if stale:
            names = ", ".join(sorted(stale))
            raise Conflict(
                f"{names} changed since you read it; read the shadow again and retry",
                details={"current_versions": stale},
            )

    @property
    def delta(self) -> dict[str, Any]:
        """Desired values that differ from what the device reports."""
        out = {}
        for key, d in self.desired.items():
            r = self.reported.get(key)
            if r is None or r.value != d.value:
                out[key] = d.value
        return out

    def set_desired(
        self, values: Mapping[str, Any], command_id: str, now: float, expires_at: float | None
    ) -> set[str]:
        """Record desired values (already validated) under one new document version.

        Returns the earlier commands that no longer want any key (this one superseded them).
        """
        self.version += 1
        before = {d.command_id for k, d in self.desired.items() if k in values}
        for key, value in values.items():
            self.desired[key] = Desired(value, now, self.version, command_id, expires_at)
        still = {d.command_id for d in self.desired.values()}
        return {c for c in before if c not in still and c != command_id}

    def apply_reported(
        self, values: Mapping[str, Any], now: float
    ) -> tuple[dict[str, Any], dict[str, Any], Set[str]]:
        """Merge reported values. Returns (changed new values, their previous values, command ids
        whose every desired key is now confirmed)."""
        changed: dict[str, Any] = {}
        previous: dict[str, Any] = {}
        for key, value in values.items():
            current = self.reported.get(key)
            if current is not None and current.value == value:
                current.ts = now
                continue
            if not changed:
                self.version += 1
            changed[key] = value
            if current is None:
                previous[key] = None
                self.reported[key] = Reported(value, now, self.version)
            else:  # in place: nothing keeps a Reported beyond reading it
                previous[key] = current.value
                current.value = value
                current.ts = now
                current.version = self.version
        if not self.desired:  # nothing waits to be confirmed (most reports)
            return changed, previous, _NONE_CONFIRMED
        # A command is confirmed when every key it still wants is reported as wanted.
        touched = {self.desired[k].command_id for k in values if k in self.desired}
        confirmed: set[str] = set()
        for command_id in touched:
            keys = [k for k, d in self.desired.items() if d.command_id == command_id]
            if all(
                k in self.reported and self.reported[k].value == self.desired[k].value for k in keys
            ):
                for k in keys:
                    del self.desired[k]
                confirmed.add(command_id)
        return changed, previous, confirmed

    def drop_desired(self, keys: Iterable[str], command_id: str | None = None) -> list[str]:
        """Remove desired keys (only those still owned by `command_id`, if given)."""
        dropped = []
        for key in list(keys):
            d = self.desired.get(key)
            if d is not None and (command_id is None or d.command_id == command_id):
                del self.desired[key]
                dropped.append(key)
        if dropped:
            self.version += 1
        return dropped

    def expired(self, now: float) -> dict[str, list[str]]:
        """Desired keys whose expiry passed, grouped by command id."""
        out: dict[str, list[str]] = {}
        for key, d in self.desired.items():
            if d.expires_at is not None and d.expires_at <= now:
                out.setdefault(d.command_id, []).append(key)
        return out

    def expiring(self) -> bool:
        """Whether any desired value has a time-to-live."""
        return any(d.expires_at is not None for d in self.desired.values())

    def pending_for(self, command_id: str) -> dict[str, Any]:
        """The desired values still owned by one command."""
        return {k: d.value for k, d in self.desired.items() if d.command_id == command_id}

    def reported_values(self) -> dict[str, Any]:
        """Plain reported values."""
        return {k: r.value for k, r in self.reported.items()}

    def to_dict(self) -> dict[str, Any]:
        """API form."""
        return {
            "device_id": self.device_id,
            "version": self.version,
            "reported": {k: r.to_dict() for k, r in self.reported.items()},
            "desired": {k: d.to_dict() for k, d in self.desired.items()},
            "delta": self.delta,
        }

    def to_doc(self) -> dict[str, Any]:
        """Storage form (the API form minus what is derived)."""
        return {
            "reported": {k: [r.value, r.ts, r.version] for k, r in self.reported.items()},
            "desired": {
                k: [d.value, d.ts, d.version, d.command_id, d.expires_at]
                for k, d in self.desired.items()
            },
        }

    @classmethod
    def from_doc(cls, device_id: str, version: int, doc: Mapping[str, Any]) -> Shadow:
        """Inverse of to_doc."""
        s = cls(device_id)
        s.version = version
        s.reported = {k: Reported(*v) for k, v in doc.get("reported", {}).items()}
        s.desired = {k: Desired(*v) for k, v in doc.get("desired", {}).items()}
        return s
