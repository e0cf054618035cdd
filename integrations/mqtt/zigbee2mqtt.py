"""Zigbee2MQTT devices in the hub: the device list, state, availability and `/set` commands.

One subscription, `<base_topic>/#`: `bridge/devices` (retained, may be megabytes) lists what can
be adopted, `bridge/state` says whether the bridge runs, `<name>` carries a device's state as
JSON and `<name>/availability` its reachability. Commands go to `<name>/set` as JSON; after a
(re)connection adopted devices are asked for fresh state with `<name>/get`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from hub.model import DeviceDescription, DiscoveredDevice
from integrations.errors import CommandFailed
from integrations.mqtt.errors import BrokerUnavailable, PayloadError
from integrations.mqtt.family import DOMAIN, Family
from integrations.mqtt.link import Inbound
from integrations.mqtt.mapping import parse_json, parse_object
from integrations.mqtt.zigbee2mqtt_mapping import Z2mDevice, map_devices, parse_availability

_LOG = logging.getLogger(__name__)
# State requests (/get) in flight at once. A bridge with 1,000 devices coming online would
# otherwise queue 1,000 publishes in one go: aiomqtt logs a warning for each one past ten, and
# Zigbee2MQTT forwards every /get over the radio mesh as it arrives.
GETS_IN_FLIGHT = 8


class Zigbee2MqttFamily(Family):
    """Devices behind a Zigbee2MQTT bridge."""

    name = "zigbee2mqtt"
    short = "z2m"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = self.config.zigbee2mqtt_topic
        self.devices: dict[str, Z2mDevice] = {}  # by hub id
        self.by_name: dict[str, str] = {}  # friendly name -> hub id
        self.available: dict[str, bool] = {}  # from <name>/availability
        self.bridge_online: bool | None = None
        self.last_mode: dict[str, str] = {}  # a climate's mode while it is off
        self._fresh: set[str] = set()  # asked for state since the last (re)connection
        self._echo: dict[str, dict[str, tuple[Any, Any]]] = {}  # see mapping.decode_lenient
        self._get_slots = asyncio.Semaphore(GETS_IN_FLIGHT)

    async def start(self) -> None:
        """Subscribe to the bridge's whole tree (the inventory may be large)."""
        await self.link.subscribe(f"{self.base}/#", self._on_message,
                                  max_bytes=self.config.max_inventory_bytes)

    async def connected(self) -> None:
        """Learn the bridge state again from its retained messages; refresh devices."""
        self._fresh.clear()

    # ----------------------------------------------------------------- inbound
    async def _on_message(self, message: Inbound) -> None:
        rest = message.topic[len(self.base) + 1:]
        if rest == "bridge/devices":
            await self._on_devices(message)
            return
        if rest == "bridge/state":
            await self._on_bridge_state(message.payload)
            return
        if rest.startswith("bridge/"):
            return
        if len(message.payload) > self.config.max_payload_bytes:
            self.link.warn_once(message.topic, "size",
                                f"Zigbee2MQTT: dropped a {len(message.payload)}-byte message on "
                                f"{message.topic} (max_payload_bytes is "
                                f"{self.config.max_payload_bytes})")
            return
        device_id = self.by_name.get(rest)
        if device_id is not None:
            await self._on_state(device_id, message.payload)
        elif rest.endswith("/availability"):
            device_id = self.by_name.get(rest[: -len("/availability")])
            if device_id is not None:
                await self._on_availability(device_id, message.payload)

    async def _on_devices(self, message: Inbound) -> None:
        if not message.payload:
            return  # the retained list was cleared
        mapped, problems = map_devices(parse_json(message.payload))
        seen: set[str] = set()
        listed = []
        for device in mapped:
            device_id = self.device_id(device.ieee)
            seen.add(device_id)
            old = self.devices.get(device_id)
            if old is not None and old.friendly_name != device.friendly_name:
                self.by_name.pop(old.friendly_name, None)  # renamed in Zigbee2MQTT
                self._fresh.discard(device_id)
            self.devices[device_id] = device
            self.by_name[device.friendly_name] = device_id
            listed.append((self._found(device_id, device), self._description(device_id, device),
                           self._reachable(device_id)))
        # One batch: the whole list is stored in one commit, not one per device.
        for (_, description, _), taken in zip(listed, await self.offer_or_add_many(listed),
                                              strict=True):
            if taken:
                self._refresh(description.id)
        for device_id in self.adopted - seen:
            if device_id in self.devices:
                gone = self.devices.pop(device_id)
                self.by_name.pop(gone.friendly_name, None)
            await self.set_online(device_id, False, "not in Zigbee2MQTT's device list")
        if problems:
            raise PayloadError("bridge/devices: " + "; ".join(problems[:5]))

    async def _on_bridge_state(self, payload: bytes) -> None:
        online = parse_availability(payload)
        if online is None or online == self.bridge_online:
            return
        self.bridge_online = online
        _LOG.info("Zigbee2MQTT bridge at %s is %s", self.base, "online" if online else "offline")
        for device_id in list(self.adopted):
            await self.set_online(device_id, self._reachable(device_id),
                                  "" if online else "the Zigbee2MQTT bridge is offline")

    async def _on_state(self, device_id: str, payload: bytes) -> None:
        if device_id not in self.adopted or not payload:
            return  # not ours, or a retained state being cleared
        device = self.devices[device_id]
        state = parse_object(payload)
        mode = state.get("system_mode")
        if isinstance(mode, str) and mode != "off":
            self.last_mode[device_id] = mode
        values, problems = device.decode(state, self._echo.get(device_id))
        if values:
            await self.hub.report(device_id, values)
        if problems:
            raise PayloadError(f"{device.friendly_name}: " + "; ".join(problems))

    async def _on_availability(self, device_id: str, payload: bytes) -> None:
        online = parse_availability(payload)
        if online is None:
            return
        self.available[device_id] = online
        if device_id in self.adopted:
            await self.set_online(device_id, self._reachable(device_id),
                                  "" if online else "Zigbee2MQTT says the device is offline")
            if online:
                self._refresh(device_id)

    # ----------------------------------------------------------------- helpers
    def _reachable(self, device_id: str) -> bool:
        # Zigbee2MQTT keeps bridge/state retained; until it is heard nothing is reachable.
        return (self.link.connected and self.bridge_online is True
                and self.available.get(device_id, True) and device_id in self.devices)

    def _refresh(self, device_id: str) -> None:
        device = self.devices.get(device_id)
        if device is None or device_id in self._fresh or not device.gettable:
            return
        self._fresh.add(device_id)
        payload = json.dumps(dict.fromkeys(device.gettable, "")).encode()
        self.spawn(self._get(device.friendly_name, payload))

    async def _get(self, friendly_name: str, payload: bytes) -> None:
        async with self._get_slots:
            with contextlib.suppress(BrokerUnavailable):  # asked again after the next connection
                await self.link.publish(f"{self.base}/{friendly_name}/get", payload, qos=0)

    def _found(self, device_id: str, device: Z2mDevice) -> DiscoveredDevice:
        return DiscoveredDevice(
            key=device_id, integration=DOMAIN, name=device.friendly_name,
            address=f"{self.base}/{device.friendly_name}",
            model=" ".join(p for p in (device.vendor, device.model) if p),
            properties={"family": self.name, "ieee": device.ieee,
                        "description": device.description,
                        "properties": [f.name for f in device.fields]},
        )

    def _description(self, device_id: str, device: Z2mDevice) -> DeviceDescription:
        return DeviceDescription(
            id=device_id, integration=DOMAIN, name=device.friendly_name,
            model=device.description or device.model, manufacturer=device.vendor,
            address=f"{self.base}/{device.friendly_name}",
            properties={f.name: f.spec for f in device.fields},
            extra={"family": self.name, "ieee": device.ieee,
                   "friendly_name": device.friendly_name, "base_topic": self.base},
        )

    # ----------------------------------------------------------------- hub calls
    async def adopt(self, found: DiscoveredDevice) -> None:
        """Add an offered device and ask it for its state."""
        device = self.devices.get(found.key)
        if device is None:
            raise CommandFailed(f"{found.name} is no longer in Zigbee2MQTT's device list")
        self.adopted.add(found.key)
        await self.offer_or_add(found, self._description(found.key, device),
                                self._reachable(found.key))
        self._refresh(found.key)

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Publish one `/set` with every change; the state message confirms it."""
        device = self.devices.get(device_id)
        if device is None:
            raise self.unreachable(device_id, "Zigbee2MQTT has not listed this device yet")
        if not self._reachable(device_id):
            raise self.unreachable(device_id, "the device or its Zigbee2MQTT bridge is offline")
        try:
            payload = device.encode(changes, self.last_mode.get(device_id))
        except PayloadError as err:
            raise CommandFailed(str(err)) from err
        self._echo.setdefault(device_id, {}).update(device.echoes(changes, payload))
        try:
            await self.link.publish(f"{self.base}/{device.friendly_name}/set",
                                    json.dumps(payload).encode())
        except BrokerUnavailable as err:
            raise self.unreachable(device_id, str(err)) from err
