"""discovery_handler: owned devices go to their integration, new ones to the adoption list."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.discovery import discovery_handler
from hub.model import DeviceDescription, DiscoveredDevice, spec_for
from integrations.esphome import EsphomeIntegration


class Hub:
    def __init__(self) -> None:
        self.stored: dict[str, DeviceDescription] = {}
        self.offered: list[DiscoveredDevice] = []

    async def add_device(self, description: DeviceDescription) -> None:
        self.stored[description.id] = description

    async def report(self, device_id: str, values: Mapping[str, Any], **_: Any) -> None:
        pass

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        pass

    async def discovered(self, found: DiscoveredDevice) -> None:
        self.offered.append(found)

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.stored.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return [d for d in self.stored.values() if d.integration == integration]

    def storage_dir(self, integration: str) -> Path:
        """A private folder per integration, like the hub's (kept secrets of adopted nodes)."""
        return Path(tempfile.gettempdir()) / f"homehub-test-{os.getpid()}-{id(self)}" / integration


def found(mac: str) -> DiscoveredDevice:
    return DiscoveredDevice(key=f"esphome-{mac}", integration="esphome", name=mac,
                            address="127.0.0.49", port=1, properties={"mac": mac})


async def test_routing() -> None:
    hub = Hub()
    hub.stored["esphome-020000000001"] = DeviceDescription(
        id="esphome-020000000001", integration="esphome", name="stored", model="esp32",
        properties={"power": spec_for("power")},
        extra={"host": "127.0.0.48", "port": 6053, "mac": "020000000001"},
    )
    esphome = EsphomeIntegration()
    await esphome.setup(hub, {})
    try:
        on_found = discovery_handler(hub, {"esphome": esphome})
        await on_found(found("020000000002"))  # never seen: offered for adoption
        await on_found(found("020000000001"))  # stored before a restart: reconnected
        await on_found(DiscoveredDevice(key="x", integration="other", name="x", address="a"))
        assert [f.key for f in hub.offered] == ["esphome-020000000002", "x"]
        [link] = esphome.links
        assert link.address == "127.0.0.49:1"
        assert link.cfg.mac == "020000000001"
    finally:
        await esphome.shutdown()
