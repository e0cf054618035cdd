"""What the three device families (Zigbee2MQTT, Tasmota, Shelly) share inside the integration.

A family subscribes to its topics on the shared link, offers what it finds for adoption (or adds
it, with `adopt = "auto"`), reports values and availability, and turns desired values into
publishes. Availability seen by the hub is the family's own signal (an availability topic, a
last will) and the broker link being up.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, ClassVar

from hub.model import DeviceDescription, DiscoveredDevice, HubPort, make_device_id
from integrations.errors import DeviceUnreachable
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.link import MqttLink, cancel_to_end

_LOG = logging.getLogger(__name__)

DOMAIN = "mqtt"
BROKER_DOWN = "the MQTT broker is unreachable"


class Family(abc.ABC):
    """One device family on the broker."""

    name: ClassVar[str]  # "zigbee2mqtt", "tasmota", "shelly"
    short: ClassVar[str]  # device id part: "z2m", "tasmota", "shelly"

    def __init__(self, hub: HubPort, link: MqttLink, config: MqttConfig) -> None:
        self.hub = hub
        self.link = link
        self.config = config
        self.adopted: set[str] = {
            d.id for d in hub.stored_devices(DOMAIN) if d.extra.get("family") == self.name
        }
        self._online: dict[str, bool] = {}  # what the hub was last told, per device
        self._tasks: set[asyncio.Task[Any]] = set()

    def device_id(self, ident: str) -> str:
        """The hub id of a device of this family (also its discovery key)."""
        return make_device_id(DOMAIN, self.short, ident)

    def owns(self, device_id: str) -> bool:
        """Is this one of ours?"""
        return device_id.startswith(f"{DOMAIN}-{self.short}-")

    def stored(self) -> list[DeviceDescription]:
        """Adopted devices of this family the hub remembers."""
        return [d for d in self.hub.stored_devices(DOMAIN) if d.extra.get("family") == self.name]

    async def offer_or_add(self, found: DiscoveredDevice, description: DeviceDescription,
                           online: bool) -> bool:
        """Adopted (or adopt = auto): add/update it and return True; else offer it."""
        if description.id in self.adopted or self.config.adopt == "auto":
            self.adopted.add(description.id)
            if self.hub.device(description.id) != description:
                await self.hub.add_device(description)
                self._online[description.id] = True  # adding marks a device online
            await self.set_online(description.id, online)
            return True
        await self.hub.discovered(found)
        return False

    async def offer_or_add_many(
        self, items: Sequence[tuple[DiscoveredDevice, DeviceDescription, bool]]
    ) -> list[bool]:
        """`offer_or_add` for a whole device list: the new and changed descriptions go to the
        hub in one batch (one commit for a bridge's 1,000 devices)."""
        adding: list[DeviceDescription] = []
        taken: list[bool] = []
        for found, description, _online in items:
            take = description.id in self.adopted or self.config.adopt == "auto"
            taken.append(take)
            if not take:
                await self.hub.discovered(found)
                continue
            self.adopted.add(description.id)
            if self.hub.device(description.id) != description:
                adding.append(description)
        if adding:
            await self.hub.add_devices(adding)
            for description in adding:
                self._online[description.id] = True  # adding marks a device online
        for (_found, description, online), take in zip(items, taken, strict=True):
            if take:
                await self.set_online(description.id, online)
        return taken

    async def set_online(self, device_id: str, online: bool, reason: str = "") -> None:
        """Tell the hub when a device's reachability changes (not when it stays the same)."""
        online = online and self.link.connected
        if not online and not reason and not self.link.connected:
            reason = BROKER_DOWN
        if self._online.get(device_id) == online:
            return
        self._online[device_id] = online
        await self.hub.set_available(device_id, online, reason)

    def unreachable(self, device_id: str, reason: str) -> DeviceUnreachable:
        """The error for a command that cannot go out (the hub then marks the device offline,
        keeps the desired values, and applies them when we say it is back)."""
        self._online[device_id] = False
        return DeviceUnreachable(reason)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run background work (request/response conversations must not block dispatch)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOG.error("MQTT %s background work failed", self.name, exc_info=task.exception())

    async def settle(self) -> None:
        """Wait for background work (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def broker_down(self) -> None:
        """The link dropped: every adopted device is unreachable for now."""
        for device_id in list(self.adopted):
            await self.set_online(device_id, False, BROKER_DOWN)

    async def shutdown(self) -> None:
        """Cancel background work."""
        # Each until it ends: one cancel can be lost in aiomqtt (see cancel_to_end).
        await asyncio.gather(*(cancel_to_end(task) for task in list(self._tasks)))

    @abc.abstractmethod
    async def start(self) -> None:
        """Subscribe to the family's topics."""

    async def connected(self) -> None:  # noqa: B027 - optional hook
        """The link (re)connected and resubscribed: ask devices for fresh state if needed."""

    @abc.abstractmethod
    async def adopt(self, found: DiscoveredDevice) -> None:
        """The user adopted something this family offered."""

    @abc.abstractmethod
    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send validated values to a device."""

    async def remove(self, device_id: str) -> None:
        """The user removed a device: it is offered again when next seen."""
        self.adopted.discard(device_id)
        self._online.pop(device_id, None)
