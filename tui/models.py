"""What the TUI knows about the home, built from the hub's JSON. Pure values, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENERGY_PROPERTIES = ("power_w", "energy_kwh", "energy_export_kwh")


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """A device property as the hub describes it (type, unit, range, choices, writable)."""

    name: str
    type: str  # bool | int | float | enum | string | list
    writable: bool = False
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropertyInfo:
        """From the hub's PropertySpec JSON."""
        choices = data.get("choices")
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "string")),
            writable=bool(data.get("writable", False)),
            unit=data.get("unit"),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            step=data.get("step"),
            choices=tuple(str(c) for c in choices) if choices is not None else None,
        )

    def format(self, value: Any) -> str:
        """A value as a person reads it: 'on', '21.5 °C', '60 %'."""
        if value is None:
            return "—"
        if self.type == "bool":
            if self.name in ("motion",):
                return "detected" if value else "clear"
            if self.name == "contact":
                return "closed" if value else "open"
            return "on" if value else "off"
        if self.type == "list":
            return ", ".join(str(v) for v in value) if value else "—"
        if isinstance(value, float):
            text = f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
        else:
            text = str(value)
        return f"{text} {self.unit}" if self.unit else text


@dataclass(frozen=True, slots=True)
class Device:
    """One device with its reported values."""

    id: str
    name: str
    room: str
    integration: str
    model: str
    online: bool
    properties: Mapping[str, PropertyInfo]
    values: Mapping[str, Any] = field(default_factory=dict)
    pending: Mapping[str, Any] = field(default_factory=dict)  # desired, not yet confirmed
    version: int = 0
    capabilities: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Device:
        """From the hub's device JSON (with its shadow)."""
        props = [PropertyInfo.from_dict(p) for p in data.get("properties", ())]
        shadow = data.get("shadow") or {}
        reported = shadow.get("reported") or {}
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            room=str(data.get("room") or ""),
            integration=str(data.get("integration", "")),
            model=str(data.get("model", "")),
            online=bool(data.get("online", True)),
            properties={p.name: p for p in props},
            values={k: v.get("value") for k, v in reported.items()},
            pending=dict(shadow.get("delta") or {}),
            version=int(shadow.get("version", 0)),
            capabilities=frozenset(data.get("capabilities") or ()),
        )

    @property
    def is_energy(self) -> bool:
        """A meter, solar inverter or battery: something with power or energy history."""
        return any(p in self.properties for p in ENERGY_PROPERTIES)

    def summary(self, limit: int = 4) -> str:
        """The first few values in one short line, for lists: 'on · cool · set 26.0 °C'."""
        parts = []
        for name, prop in self.properties.items():
            if prop.type == "list" or name not in self.values:
                continue
            text = prop.format(self.values[name])
            parts.append(f"set {text}" if name.startswith("target_") else text)
            if len(parts) == limit:
                break
        if not parts and "ir_commands" in self.properties:
            # An IR remote reports nothing but its buttons: say how many, not an empty cell.
            count = len(self.values.get("ir_commands") or ())
            parts.append(f"{count} remote buttons" if count else "no buttons learned yet")
        return " · ".join(parts)

    def with_event(self, event: Mapping[str, Any]) -> Device:
        """This device after a live event about it."""
        kind = event.get("type")
        if kind == "state_changed":
            values = {**self.values, **(event.get("changes") or {})}
            pending = {k: v for k, v in self.pending.items() if k not in values or values[k] != v}
            version = int(event.get("version", self.version))
            return dataclasses.replace(self, values=values, pending=pending, version=version)
        if kind == "availability":
            return dataclasses.replace(self, online=bool(event.get("online", True)))
        if kind == "desired_changed":
            pending = {**self.pending, **(event.get("values") or {})}
            return dataclasses.replace(self, pending=pending)
        return self


@dataclass(frozen=True, slots=True)
class FoundHub:
    """A hub announcing itself on the LAN."""

    name: str
    url: str
    hub_id: str = ""
    api_version: str = ""


@dataclass(frozen=True, slots=True)
class Discovered:
    """Something the hub found that can be adopted."""

    key: str
    integration: str
    name: str
    address: str
    model: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Discovered:
        """From the hub's discovered-device JSON."""
        return cls(
            key=str(data["key"]),
            integration=str(data.get("integration", "")),
            name=str(data.get("name") or data["key"]),
            address=str(data.get("address", "")),
            model=str(data.get("model") or ""),
        )
