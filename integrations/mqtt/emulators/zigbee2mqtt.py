"""An emulated Zigbee2MQTT bridge: the real topic layout and payloads, no radio.

Written from Zigbee2MQTT's documentation (MQTT topics and messages; exposes). It publishes, under
its base topic:
- `bridge/state` `{"state":"online"}` (retained; its will says offline), `bridge/info`,
- `bridge/devices` (retained): the device list with `definition.exposes`,
- `<friendly_name>/availability` `{"state":"online"}` (retained),
- `<friendly_name>`: the device's whole state as JSON after every change,
and obeys `<friendly_name>/set` (JSON, or `/set/<attribute>` with a bare value) and
`<friendly_name>/get`, answering with a state message like the bridge does.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from integrations.mqtt.config import BrokerSettings
from integrations.mqtt.errors import BrokerUnavailable
from integrations.mqtt.link import Inbound, MqttLink

_LOG = logging.getLogger(__name__)


def _binary(name: str, access: int, on: Any = "ON", off: Any = "OFF", **kw: Any) -> dict[str, Any]:
    return {"type": "binary", "name": name, "property": name, "access": access,
            "value_on": on, "value_off": off, **kw}


def _numeric(name: str, access: int, **kw: Any) -> dict[str, Any]:
    return {"type": "numeric", "name": name, "property": name, "access": access, **kw}


LINK = _numeric("linkquality", 1, unit="lqi", value_min=0, value_max=255,
                description="Link quality (signal strength)")
BATTERY = _numeric("battery", 1, unit="%", value_min=0, value_max=100,
                   description="Remaining battery in %")

#: kind -> (definition, initial state). Exposes as the documentation shows them.
KINDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "bulb": ({"model": "LED1545G12", "vendor": "IKEA",
              "description": "TRADFRI bulb E26/E27, white spectrum, globe, opal, 980 lm",
              "exposes": [
                  {"type": "light", "features": [
                      _binary("state", 7, value_toggle="TOGGLE",
                              description="On/off state of this light"),
                      _numeric("brightness", 7, value_min=0, value_max=254,
                               description="Brightness of this light"),
                      _numeric("color_temp", 7, unit="mired", value_min=250, value_max=454,
                               presets=[{"name": "warmest", "value": 454}],
                               description="Color temperature of this light"),
                      {"type": "composite", "name": "color_xy", "property": "color",
                       "features": [_numeric("x", 7), _numeric("y", 7)]},
                  ]},
                  {"type": "enum", "name": "effect", "property": "effect", "access": 2,
                   "values": ["blink", "breathe", "okay"]},
                  LINK]},
             {"state": "OFF", "brightness": 254, "color_temp": 370,
              "color": {"x": 0.4599, "y": 0.4106}, "linkquality": 120}),
    "plug": ({"model": "ZNCZ02LM", "vendor": "Xiaomi", "description": "Mi power plug ZigBee",
              "exposes": [
                  {"type": "switch", "features": [_binary("state", 7, value_toggle="TOGGLE")]},
                  _numeric("power", 5, unit="W", description="Instantaneous measured power"),
                  _numeric("energy", 5, unit="kWh", description="Sum of consumed energy"),
                  _numeric("voltage", 5, unit="V", description="Measured electrical potential"),
                  _numeric("device_temperature", 1, unit="°C"),
                  _binary("power_outage_memory", 7, True, False),
                  LINK]},
             {"state": "OFF", "power": 0.0, "energy": 12.34, "voltage": 230,
              "device_temperature": 31, "power_outage_memory": False, "linkquality": 96}),
    "thermostat": ({"model": "SPZB0001", "vendor": "Eurotronic",
                    "description": "Spirit Zigbee wireless heater thermostat",
                    "exposes": [
                        {"type": "climate", "features": [
                            _numeric("occupied_heating_setpoint", 7, unit="°C", value_min=5,
                                     value_max=30, value_step=0.5),
                            _numeric("local_temperature", 5, unit="°C"),
                            {"type": "enum", "name": "system_mode", "property": "system_mode",
                             "access": 7, "values": ["off", "auto", "heat"]},
                            {"type": "enum", "name": "running_state",
                             "property": "running_state", "access": 5,
                             "values": ["idle", "heat"]},
                        ]},
                        BATTERY, LINK]},
                   {"occupied_heating_setpoint": 20.0, "local_temperature": 19.5,
                    "system_mode": "heat", "running_state": "heat", "battery": 87,
                    "linkquality": 70}),
    "climate_sensor": ({"model": "WSDCGQ11LM", "vendor": "Xiaomi",
                        "description": "Aqara temperature, humidity and pressure sensor",
                        "exposes": [
                            _numeric("temperature", 1, unit="°C"),
                            _numeric("humidity", 1, unit="%"),
                            _numeric("pressure", 1, unit="hPa"),
                            BATTERY, LINK]},
                       {"temperature": 21.3, "humidity": 48.2, "pressure": 1009.5,
                        "battery": 91, "linkquality": 80}),
    "door": ({"model": "MCCGQ11LM", "vendor": "Xiaomi",
              "description": "Aqara door & window contact sensor",
              "exposes": [
                  # Zigbee2MQTT's contact says "on" (open, for dashboards) with value false.
                  _binary("contact", 1, False, True, description=(
                      "Indicates if the contact is closed (= true) or open (= false)")),
                  BATTERY, LINK]},
             {"contact": True, "battery": 100, "linkquality": 60}),
    "motion": ({"model": "RTCGQ11LM", "vendor": "Xiaomi",
                "description": "Aqara human body movement and illuminance sensor",
                "exposes": [
                    _binary("occupancy", 1, True, False),
                    _numeric("illuminance_lux", 1, unit="lx"),
                    BATTERY, LINK]},
               {"occupancy": False, "illuminance_lux": 120, "battery": 95, "linkquality": 50}),
}
@dataclass
class ZigbeeDevice:
    """One emulated device behind the bridge."""

    friendly_name: str
    ieee: str
    kind: str
    state: dict[str, Any]
    available: bool = True
    sets: list[dict[str, Any]] = field(default_factory=list)  # every /set received

    def definition(self) -> dict[str, Any]:
        """Its `definition` (model, vendor, exposes)."""
        return copy.deepcopy(KINDS[self.kind][0])

    def entry(self) -> dict[str, Any]:
        """Its entry in bridge/devices."""
        battery = self.kind in ("thermostat", "climate_sensor", "door", "motion")
        return {
            "ieee_address": self.ieee, "type": "EndDevice" if battery else "Router",
            "network_address": int(self.ieee[-4:], 16), "supported": True,
            "friendly_name": self.friendly_name, "disabled": False,
            "definition": self.definition(),
            "power_source": "Battery" if battery else "Mains (single phase)",
            "model_id": KINDS[self.kind][0]["model"], "interviewing": False,
            "interview_completed": True,
        }


class Zigbee2MqttBridge:
    """The emulated bridge; `devices` by friendly name."""

    def __init__(self, broker: BrokerSettings, base_topic: str = "zigbee2mqtt",
                 devices: Iterable[tuple[str, str]] = (), *, retain_state: bool = False) -> None:
        self.base = base_topic.strip("/")
        self.retain_state = retain_state
        self.devices: dict[str, ZigbeeDevice] = {}
        for i, (name, kind) in enumerate(devices):
            self.add(name, kind, ieee=f"0x00158d0001{i:06x}")
        self.link = MqttLink(
            broker, name=f"z2m-emulator-{self.base}", max_payload_bytes=1 << 20,
            will=aiomqtt.Will(f"{self.base}/bridge/state", b'{"state":"offline"}', 1, True),
            on_connected=self._announce)

    def add(self, name: str, kind: str, ieee: str | None = None) -> ZigbeeDevice:
        """Pair a device (call `publish_devices` to announce it)."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        ieee = ieee or f"0x00124b00{len(self.devices):08x}"
        device = ZigbeeDevice(name, ieee, kind, copy.deepcopy(KINDS[kind][1]))
        self.devices[name] = device
        return device

    async def start(self, timeout: float = 10.0) -> None:
        """Connect, announce the bridge and its devices."""
        await self.link.subscribe(f"{self.base}/+/set", self._on_set)
        await self.link.subscribe(f"{self.base}/+/set/+", self._on_set)
        await self.link.subscribe(f"{self.base}/+/get", self._on_get)
        await self.link.start()
        if not await self.link.wait_connected(timeout):
            raise RuntimeError(f"emulated Zigbee2MQTT cannot reach the broker: "
                               f"{self.link.last_error}")

    async def stop(self) -> None:
        """Say offline (as the bridge does before it stops) and disconnect."""
        try:
            if self.link.connected:
                await self.link.publish(f"{self.base}/bridge/state", b'{"state":"offline"}',
                                        retain=True)
        except BrokerUnavailable:
            pass  # the broker is gone already: nobody to tell
        finally:
            await self.link.close()

    async def clear(self) -> None:
        """Remove this bridge's retained messages from the broker (tests share a broker)."""
        topics = [f"{self.base}/bridge/{t}" for t in ("state", "info", "devices")]
        topics += [f"{self.base}/{n}{s}" for n in self.devices for s in ("", "/availability")]
        for topic in topics:
            await self.link.publish(topic, b"", retain=True)

    async def _announce(self) -> None:
        await self.link.publish(f"{self.base}/bridge/state", b'{"state":"online"}', retain=True)
        await self.link.publish(f"{self.base}/bridge/info", json.dumps(
            {"version": "1.40.2", "commit": "emulated", "permit_join": False,
             "coordinator": {"type": "zStack3x0", "ieee_address": "0x00124b0000000000"},
             "config": {"advanced": {"legacy_availability_payload": False}}}).encode(),
            retain=True)
        await self.publish_devices()
        for device in self.devices.values():
            await self._availability(device)
            await self.publish_state(device)

    async def publish_devices(self) -> None:
        """(Re)publish bridge/devices: the coordinator and every paired device."""
        entries = [{"ieee_address": "0x00124b0000000000", "type": "Coordinator",
                    "network_address": 0, "supported": False, "friendly_name": "Coordinator",
                    "definition": None, "interview_completed": True, "interviewing": False}]
        entries += [d.entry() for d in self.devices.values()]
        await self.link.publish(f"{self.base}/bridge/devices",
                                json.dumps(entries).encode(), retain=True)

    async def _availability(self, device: ZigbeeDevice) -> None:
        state = "online" if device.available else "offline"
        await self.link.publish(f"{self.base}/{device.friendly_name}/availability",
                                json.dumps({"state": state}).encode(), retain=True)

    async def publish_state(self, device: ZigbeeDevice) -> None:
        """Publish the device's whole state, as the bridge does after any change."""
        await self.link.publish(f"{self.base}/{device.friendly_name}",
                                json.dumps(device.state).encode(), retain=self.retain_state)

    async def change(self, name: str, **values: Any) -> None:
        """Something changed at the device (a sensor reading, a wall switch)."""
        device = self.devices[name]
        device.state.update(values)
        await self.publish_state(device)

    async def set_available(self, name: str, available: bool) -> None:
        """The device stops (or starts again) answering the coordinator."""
        device = self.devices[name]
        device.available = available
        await self._availability(device)

    async def _on_set(self, message: Inbound) -> None:
        rest = message.topic[len(self.base) + 1:]
        name, _, attribute = rest.partition("/set")
        device = self.devices.get(name)
        if device is None:
            return
        try:
            if attribute:
                command: Any = {attribute.lstrip("/"): message.payload.decode()}
            else:
                command = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            _LOG.info("emulated Zigbee2MQTT: %s sent non-JSON to /set", name)
            return
        if not isinstance(command, Mapping) or not device.available:
            return
        device.sets.append(dict(command))
        self._apply(device, command)
        await self.publish_state(device)

    def _apply(self, device: ZigbeeDevice, command: Mapping[str, Any]) -> None:
        exposes = _flatten(KINDS[device.kind][0]["exposes"])
        for key, value in command.items():
            expose = exposes.get(key)
            if expose is None or not expose.get("access", 0) & 2:
                continue
            if key == "state" and value == "TOGGLE":
                value = "OFF" if device.state.get("state") == "ON" else "ON"
            if expose["type"] == "numeric":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                lo, hi = expose.get("value_min"), expose.get("value_max")
                value = max(lo, value) if lo is not None else value
                value = min(hi, value) if hi is not None else value
            elif expose["type"] == "enum" and value not in expose.get("values", []):
                continue
            device.state[key] = value
            if key == "brightness" and "state" in device.state:
                device.state["state"] = "ON" if value else "OFF"
            if key == "system_mode":
                device.state["running_state"] = "idle" if value == "off" else "heat"

    async def _on_get(self, message: Inbound) -> None:
        name = message.topic[len(self.base) + 1:-len("/get")]
        device = self.devices.get(name)
        if device is not None and device.available:
            await self.publish_state(device)


def _flatten(exposes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for expose in exposes:
        if expose.get("type") != "composite" and "features" in expose:
            out.update(_flatten(expose["features"]))
        elif "property" in expose:
            out[expose["property"]] = expose
    return out
