"""Device descriptions that integrations hand to the hub."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.model.vocabulary import PropertySpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

#: Capabilities a device may declare: it can send IR codes (a blaster) / learn them (a receiver).
IR_SEND = "ir_send"
IR_LEARN = "ir_learn"
CAPABILITIES = frozenset({IR_SEND, IR_LEARN})


def make_device_id(integration: str, *parts: str | int) -> str:
    """A stable, URL-safe device id such as ``echonet-0102030405-013001``."""
    pieces = [integration, *(str(p) for p in parts)]
    return "-".join(_UNSAFE.sub("_", p).strip("_") or "x" for p in pieces)


@dataclass(frozen=True, slots=True)
class DeviceDescription:
    """What an integration knows about one device it can drive.

    `extra` is integration-private data the hub stores and hands back (e.g. an ECHONET EOJ);
    it must be JSON-serialisable.
    """

    id: str
    integration: str
    name: str
    model: str
    properties: Mapping[str, PropertySpec]
    manufacturer: str = ""
    address: str | None = None
    suggested_room: str | None = None
    assumed_state: bool = False  # one-way devices (IR): reported values are what we last sent
    # What the device can do beyond its properties, from CAPABILITIES (e.g. "ir_learn").
    capabilities: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "integration": self.integration,
            "name": self.name,
            "model": self.model,
            "manufacturer": self.manufacturer,
            "address": self.address,
            "suggested_room": self.suggested_room,
            "assumed_state": self.assumed_state,
            "properties": [p.to_dict() for p in self.properties.values()],
            "capabilities": list(self.capabilities),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceDescription:
        """Inverse of to_dict."""
        props = [PropertySpec.from_dict(p) for p in data.get("properties", [])]
        return cls(
            id=data["id"],
            integration=data["integration"],
            name=data["name"],
            model=data.get("model", ""),
            manufacturer=data.get("manufacturer", ""),
            address=data.get("address"),
            suggested_room=data.get("suggested_room"),
            assumed_state=bool(data.get("assumed_state", False)),
            properties={p.name: p for p in props},
            capabilities=tuple(data.get("capabilities", ())),
            extra=dict(data.get("extra", {})),
        )


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """Something found on the network that the user may adopt (mDNS, ECHONET, Broadlink)."""

    # Stable identity of the find, e.g. "esphome-<mac>": the device id prefix, or (when the id
    # cannot be known before reading the device, as with ECHONET) devices at `address` belong.
    key: str
    integration: str
    name: str
    address: str
    port: int | None = None
    model: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)  # e.g. TXT records

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "key": self.key,
            "integration": self.integration,
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "model": self.model,
            "properties": dict(self.properties),
        }
