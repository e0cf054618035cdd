"""Virtual devices that live in memory: they take writes, report back and can be 'unplugged'."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hub.model import DeviceDescription, HubPort, Integration, PropertySpec, spec_for
from integrations.errors import CommandFailed, DeviceUnreachable


@dataclass
class VirtualDevice:
    """One virtual device: its description and current values."""

    id: str
    name: str
    properties: dict[str, PropertySpec]
    values: dict[str, Any]
    room: str | None = None
    online: bool = True
    refuse: set[str] = field(default_factory=set)  # properties whose writes fail (tests)
    applied: list[dict[str, Any]] = field(default_factory=list)

    def description(self) -> DeviceDescription:
        """What the hub is told."""
        return DeviceDescription(
            id=self.id,
            integration="virtual",
            name=self.name,
            model="virtual",
            manufacturer="homehub",
            properties=self.properties,
            suggested_room=self.room,
        )


def demo_devices() -> list[VirtualDevice]:
    """A small flat: a light, a thermostat and a motion sensor."""
    return [
        VirtualDevice(
            "virtual-lamp",
            "Reading lamp",
            {"power": spec_for("power"), "brightness": spec_for("brightness")},
            {"power": False, "brightness": 60},
            room="Living room",
        ),
        VirtualDevice(
            "virtual-heater",
            "Bathroom heater",
            {
                "power": spec_for("power"),
                "target_temperature": spec_for("target_temperature", minimum=10, maximum=30),
                "temperature": spec_for("temperature"),
            },
            {"power": False, "target_temperature": 21.0, "temperature": 18.5},
            room="Bathroom",
        ),
        VirtualDevice(
            "virtual-motion",
            "Hall motion",
            {"motion": spec_for("motion")},
            {"motion": False},
            room="Hall",
        ),
    ]


def _from_config(entry: Mapping[str, Any]) -> VirtualDevice:
    props = {name: spec_for(name) for name in entry.get("properties", {})}
    return VirtualDevice(
        id=str(entry["id"]),
        name=str(entry.get("name", entry["id"])),
        properties=props,
        values=dict(entry.get("properties", {})),
        room=entry.get("room"),
    )


class VirtualIntegration(Integration):
    """Devices in memory; `config['devices']` may list {id, name, room, properties: {k: v}}."""

    domain: ClassVar[str] = "virtual"

    def __init__(self, devices: Sequence[VirtualDevice] | None = None) -> None:
        self.devices: dict[str, VirtualDevice] = {d.id: d for d in devices or ()}
        self._hub: HubPort | None = None

    @property
    def hub(self) -> HubPort:
        """The hub this integration reports to."""
        if self._hub is None:
            raise RuntimeError("integration not set up")
        return self._hub

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Register the devices and report their values."""
        self._hub = hub
        if not self.devices:
            entries = config.get("devices")
            devs = [_from_config(e) for e in entries] if entries else demo_devices()
            self.devices = {d.id: d for d in devs}
        for dev in self.devices.values():
            await hub.add_device(dev.description())
            await hub.report(dev.id, dev.values)
            if not dev.online:
                await hub.set_available(dev.id, False, "unplugged")

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Take the values (like a real device would) and report them back."""
        dev = self.devices.get(device_id)
        if dev is None:
            raise CommandFailed(f"virtual device {device_id} does not exist")
        if not dev.online:
            raise DeviceUnreachable(f"{dev.name} does not answer (unplugged)")
        refused = sorted(set(changes) & dev.refuse)
        if refused:
            raise CommandFailed(f"{dev.name} refused {', '.join(refused)}")
        await asyncio.sleep(0)  # a real device answers later, never inside the call
        dev.applied.append(dict(changes))
        dev.values.update(changes)
        await self.hub.report(device_id, changes)

    async def unplug(self, device_id: str) -> None:
        """Simulate a device losing power."""
        self.devices[device_id].online = False
        await self.hub.set_available(device_id, False, "unplugged")

    async def plug_in(self, device_id: str) -> None:
        """Simulate a device coming back."""
        self.devices[device_id].online = True
        await self.hub.set_available(device_id, True, "back")

    async def sense(self, device_id: str, values: Mapping[str, Any]) -> None:
        """Simulate a sensor reading changing."""
        self.devices[device_id].values.update(values)
        await self.hub.report(device_id, values)

    async def shutdown(self) -> None:
        """Nothing to close."""
        self._hub = None
