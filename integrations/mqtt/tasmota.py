"""Tasmota devices in the hub: native discovery, `stat/` answers, `tele/` telemetry, `cmnd/`.

Discovery messages (`tasmota/discovery/<MAC>/config` and `/sensors`, retained) describe each
device; its own topics follow its FullTopic. The last will on `tele/<topic>/LWT` says whether it
is online. After adoption and after every reconnection the hub asks for the state
(`cmnd/<topic>/STATE`) and the sensors (`cmnd/<topic>/STATUS 10`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from hub.model import DeviceDescription, DiscoveredDevice
from integrations.errors import CommandFailed
from integrations.mqtt.errors import BrokerUnavailable, PayloadError
from integrations.mqtt.family import DOMAIN, Family
from integrations.mqtt.link import Inbound
from integrations.mqtt.mapping import parse_object
from integrations.mqtt.tasmota_mapping import CMND, STAT, TELE, TasmotaDevice, map_device

_LOG = logging.getLogger(__name__)

JSON_TOPICS = ("RESULT", "STATE", "SENSOR", "STATUS10", "STATUS11")


class TasmotaFamily(Family):
    """Tasmota devices (relays, lights, sensors) by native discovery."""

    name = "tasmota"
    short = "tasmota"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix = self.config.tasmota_discovery
        self.configs: dict[str, dict[str, Any]] = {}  # by MAC
        self.sensors: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, TasmotaDevice] = {}  # by hub id
        self.lwt: dict[str, bool] = {}
        self._routes: dict[str, list[str]] = {}  # hub id -> filters subscribed for it
        self._echo: dict[str, dict[str, tuple[Any, Any]]] = {}
        self._fresh: set[str] = set()

    async def start(self) -> None:
        """Subscribe to the discovery topics (retained: every device arrives at once)."""
        await self.link.subscribe(f"{self.prefix}/+/config", self._on_discovery)
        await self.link.subscribe(f"{self.prefix}/+/sensors", self._on_discovery)

    async def connected(self) -> None:
        """Ask every adopted device for its state again."""
        self._fresh.clear()

    # ----------------------------------------------------------------- inbound
    async def _on_discovery(self, message: Inbound) -> None:
        mac, _, kind = message.topic[len(self.prefix) + 1:].partition("/")
        mac = mac.upper()
        if not message.payload:  # the device's discovery was cleared (SetOption19, reset)
            (self.configs if kind == "config" else self.sensors).pop(mac, None)
            return
        body = parse_object(message.payload)
        if kind == "sensors":
            sensors = body.get("sn")
            if not isinstance(sensors, dict):
                raise PayloadError("a sensors message without an sn object")
            self.sensors[mac] = sensors
        else:
            self.configs[mac] = body
        if mac in self.configs:
            device = map_device(self.configs[mac], self.sensors.get(mac), mac)
            await self._found(device)

    async def _found(self, device: TasmotaDevice) -> None:
        device_id = self.device_id(device.mac)
        self.devices[device_id] = device
        filters = [device.topic_for(STAT, "+"), device.topic_for(TELE, "+")]
        if self._routes.get(device_id) != filters:
            for old in self._routes.pop(device_id, []):
                await self.link.unsubscribe(old)
            handler = functools.partial(self._on_device, device_id)
            for topic_filter in filters:
                await self.link.subscribe(topic_filter, handler)
            self._routes[device_id] = filters
        if await self.offer_or_add(self._offer(device_id, device),
                                   self._description(device_id, device),
                                   self._reachable(device_id)):
            self._refresh(device_id)

    async def _on_device(self, device_id: str, message: Inbound) -> None:
        device = self.devices.get(device_id)
        if device is None:
            return
        kind = message.topic.rsplit("/", 1)[-1]
        if kind == "LWT":
            text = message.payload.decode("utf-8", "replace")
            if text not in (device.online_text, device.offline_text):
                if text:
                    raise PayloadError(f"LWT {text[:40]!r} is neither "
                                       f"{device.online_text!r} nor {device.offline_text!r}")
                return
            self.lwt[device_id] = text == device.online_text
            if device_id in self.adopted:
                await self.set_online(device_id, self._reachable(device_id),
                                      "" if self.lwt[device_id] else "Tasmota's will: offline")
                if self.lwt[device_id]:
                    self._refresh(device_id)
            return
        if device_id not in self.adopted or not message.payload:
            return
        if kind in JSON_TOPICS:
            state: dict[str, Any] = parse_object(message.payload)
        elif kind == "POWER" or (kind.startswith("POWER") and kind[5:].isdigit()):
            state = {kind: message.payload.decode("utf-8", "replace")}
        else:
            return
        values, problems = device.decode(state, self._echo.get(device_id))
        if values:
            await self.hub.report(device_id, values)
        if problems:
            raise PayloadError(f"{device.name}: " + "; ".join(problems))

    # ----------------------------------------------------------------- helpers
    def _reachable(self, device_id: str) -> bool:
        return self.link.connected and self.lwt.get(device_id, False)

    def _refresh(self, device_id: str) -> None:
        device = self.devices.get(device_id)
        if device is None or device_id in self._fresh or device_id not in self.adopted:
            return
        self._fresh.add(device_id)
        self.spawn(self._ask(device))

    async def _ask(self, device: TasmotaDevice) -> None:
        with contextlib.suppress(BrokerUnavailable):
            await self.link.publish(device.topic_for(CMND, "STATE"), b"", qos=0)
            await self.link.publish(device.topic_for(CMND, "STATUS"), b"10", qos=0)

    def _offer(self, device_id: str, device: TasmotaDevice) -> DiscoveredDevice:
        return DiscoveredDevice(
            key=device_id, integration=DOMAIN, name=device.name, address=device.ip,
            model=f"Tasmota {device.model}".strip(),
            properties={"family": self.name, "mac": device.mac, "topic": device.topic,
                        "version": device.sw,
                        "properties": [f.name for f in device.fields]},
        )

    def _description(self, device_id: str, device: TasmotaDevice) -> DeviceDescription:
        return DeviceDescription(
            id=device_id, integration=DOMAIN, name=device.name, model=device.model,
            manufacturer="Tasmota", address=device.ip,
            properties={f.name: f.spec for f in device.fields},
            extra={"family": self.name, "mac": device.mac, "topic": device.topic},
        )

    # ----------------------------------------------------------------- hub calls
    async def adopt(self, found: DiscoveredDevice) -> None:
        """Add an offered device and ask it for its state."""
        device = self.devices.get(found.key)
        if device is None:
            raise CommandFailed(f"{found.name} no longer announces itself; is it powered?")
        self.adopted.add(found.key)
        await self.offer_or_add(found, self._description(found.key, device),
                                self._reachable(found.key))
        self._refresh(found.key)

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """One `cmnd/` publish per property; `stat/<topic>/RESULT` confirms each."""
        device = self.devices.get(device_id)
        if device is None:
            raise self.unreachable(device_id, "the device has not announced itself yet")
        if not self._reachable(device_id):
            raise self.unreachable(device_id, "the Tasmota device is offline")
        try:
            commands = device.commands(changes)
        except PayloadError as err:
            raise CommandFailed(str(err)) from err
        fields = {f.name: f for f in device.fields}
        echo = self._echo.setdefault(device_id, {})
        for name in changes:
            f = fields[name]
            if f.to_device is not None:
                echo[name] = (f.to_device(changes[name]), changes[name])
        try:
            for topic, payload, _ in commands:
                await self.link.publish(topic, payload.encode())
        except BrokerUnavailable as err:
            raise self.unreachable(device_id, str(err)) from err
