"""Runs inside a private network namespace (see test_discovery.py) and prints JSON events.

Not a test module: the test starts it with `ip netns exec`, because mDNS needs multicast and
loopback multicast must not be switched on in the shared namespace.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from hub.discovery import (
    DEFAULT_CONVERTERS,
    ESPHOME_SERVICE_TYPE,
    HOMEHUB_SERVICE_TYPE,
    DiscoveryService,
    FoundService,
    advertise,
)
from hub.model import DeviceDescription, DiscoveredDevice
from integrations.esphome import EsphomeEmulator, EsphomeIntegration

IFACE = ["127.0.0.1"]


def emit(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, **data}), flush=True)


async def wait_for(cond: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := cond()):
        if time.monotonic() > deadline:
            emit("timeout", what=what)
            raise SystemExit(1)
        await asyncio.sleep(0.05)
    return result


class MiniHub:
    def __init__(self) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.online: dict[str, bool] = {}

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(self, device_id: str, values: Mapping[str, Any], **_: Any) -> None:
        pass

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        self.online[device_id] = online

    async def discovered(self, found: DiscoveredDevice) -> None:
        pass

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return [d for d in self.devices.values() if d.integration == integration]

    def storage_dir(self, integration: str) -> Path:
        """A private folder per integration, like the hub's (kept secrets of adopted nodes)."""
        return Path(tempfile.gettempdir()) / f"homehub-test-{os.getpid()}-{id(self)}" / integration


def homehub_found(found: FoundService) -> DiscoveredDevice | None:
    return DiscoveredDevice(
        key=f"hub-{found.instance}",
        integration="homehub",
        name=found.instance,
        address=found.addresses[0],
        port=found.port,
    )


async def main() -> None:
    events: list[tuple[str, DiscoveredDevice]] = []

    async def on_found(dev: DiscoveredDevice) -> None:
        events.append(("found", dev))
        emit("found", **dev.to_dict())

    async def on_removed(dev: DiscoveredDevice) -> None:
        events.append(("removed", dev))
        emit("removed", key=dev.key)

    converters = {**DEFAULT_CONVERTERS, HOMEHUB_SERVICE_TYPE: homehub_found}
    discovery = DiscoveryService(on_found, on_removed, interfaces=IFACE, converters=converters)
    await discovery.start()

    # 1. an emulated ESPHome node announcing itself
    node = EsphomeEmulator(
        "garage-node", bind="127.0.0.40", port=0, advertise=True, mdns_interfaces=IFACE
    )
    await node.start()
    key = f"esphome-{node.mac_hex}"
    found = await wait_for(lambda: discovery.found.get(key), "the emulated node")
    emit("mac", mac=node.mac_hex, port=node.port)

    # 2. adopt it through the integration
    hub = MiniHub()
    integ = EsphomeIntegration()
    await integ.setup(hub, {})
    await integ.adopt(found, {})
    emit("adopted", devices=sorted(hub.devices), online=hub.online)
    await integ.shutdown()

    # 3. a device that changes address is followed
    other = AsyncZeroconf(interfaces=IFACE, ip_version=IPVersion.V4Only)
    adv = await advertise(
        other,
        "mover",
        6053,
        {"mac": "02000000aa01"},
        service_type=ESPHOME_SERVICE_TYPE,
        addresses=["127.0.0.45"],
    )
    await wait_for(
        lambda: (d := discovery.found.get("esphome-02000000aa01")) and d.address == "127.0.0.45",
        "the mover",
    )
    await adv.update(addresses=["127.0.0.46"])
    await wait_for(
        lambda: (d := discovery.found.get("esphome-02000000aa01")) and d.address == "127.0.0.46",
        "the mover's new address",
    )

    # 4. the hub's own announcement, browsed through an extra converter
    hub_adv = await advertise(
        other, "homehub-test", 8123, {"version": "1"}, addresses=["127.0.0.47"]
    )
    await wait_for(lambda: discovery.found.get("hub-homehub-test"), "the hub announcement")
    await hub_adv.close()
    await adv.close()

    # 5. goodbye packets remove the node
    await node.stop()
    await wait_for(lambda: key not in discovery.found, "the node's goodbye")
    await other.async_close()
    await discovery.stop()
    emit("done")


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), 90))
    except TimeoutError:
        emit("timeout", what="overall")
        sys.exit(1)
