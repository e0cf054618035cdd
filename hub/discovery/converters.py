"""Resolved mDNS services into DiscoveredDevice values. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hub.model import DiscoveredDevice, make_device_id

ESPHOME_SERVICE_TYPE = "_esphomelib._tcp.local."
HOMEHUB_SERVICE_TYPE = "_homehub._tcp.local."
REMO_SERVICE_TYPE = "_remo._tcp.local."


@dataclass(frozen=True, slots=True)
class FoundService:
    """One resolved mDNS service instance."""

    type: str  # "_esphomelib._tcp.local."
    name: str  # "kitchen._esphomelib._tcp.local."
    addresses: Sequence[str]  # newest first
    port: int
    properties: Mapping[str, str] = field(default_factory=dict)  # TXT, decoded
    server: str = ""  # "kitchen.local."

    @property
    def instance(self) -> str:
        """The instance label: `kitchen` of `kitchen._esphomelib._tcp.local.`."""
        suffix = "." + self.type
        return self.name[: -len(suffix)] if self.name.endswith(suffix) else self.name


Converter = Callable[[FoundService], "DiscoveredDevice | None"]


def esphome_device(found: FoundService) -> DiscoveredDevice | None:
    """An ESPHome node: keyed by its MAC (TXT `mac`), so a new address is the same find."""
    if not found.addresses:
        return None
    mac = found.properties.get("mac", "").replace(":", "").lower()
    key = make_device_id("esphome", mac or found.instance)
    props = dict(found.properties)
    props.setdefault("encrypted", "yes" if "api_encryption" in props else "no")
    return DiscoveredDevice(
        key=key,
        integration="esphome",
        name=found.properties.get("friendly_name") or found.instance,
        address=found.addresses[0],
        port=found.port,
        model=found.properties.get("board", ""),
        properties=props,
    )


def nature_remo_device(found: FoundService) -> DiscoveredDevice | None:
    """A Nature Remo (``Remo-1ABCDE._remo._tcp``): keyed by its instance name, the only
    identity its local API offers, so a new address is the same find."""
    if not found.addresses:
        return None
    return DiscoveredDevice(
        key=make_device_id("nature_remo", found.instance.lower()),
        integration="nature_remo",
        name=found.instance,
        address=found.addresses[0],
        port=found.port or 80,
        model="Nature Remo",
        properties={**found.properties, "instance": found.instance},
    )


DEFAULT_CONVERTERS: Mapping[str, Converter] = {
    ESPHOME_SERVICE_TYPE: esphome_device,
    REMO_SERVICE_TYPE: nature_remo_device,
}
