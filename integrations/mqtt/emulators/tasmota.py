"""An emulated Tasmota device: native discovery, `cmnd/`, `stat/` and `tele/` as Tasmota does.

Written from Tasmota's documentation (MQTT, Commands) and the discovery messages of Tasmota 9.3
shown there. With FullTopic `%prefix%/%topic%/` it publishes:
- `tasmota/discovery/<MAC>/config` and `/sensors` (retained),
- `tele/<topic>/LWT` `Online` (retained; its will says `Offline`),
- `tele/<topic>/STATE` and `tele/<topic>/SENSOR` (telemetry),
and answers `cmnd/<topic>/POWER<n>` (ON, OFF, TOGGLE, empty = ask), `Dimmer`, `CT`, `STATE`
and `STATUS 10` on `stat/<topic>/RESULT` (plus `stat/<topic>/POWER<n>`) and `STATUS10`.
"""

from __future__ import annotations

import copy
import json
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from integrations.mqtt.config import BrokerSettings
from integrations.mqtt.errors import BrokerUnavailable
from integrations.mqtt.link import Inbound, MqttLink

_LOG = logging.getLogger(__name__)

#: kind -> (module name, relay kinds, light subtype, sensors)
KINDS: dict[str, tuple[str, list[int], int, dict[str, Any]]] = {
    "plug": ("Sonoff S31", [1], 0, {"ENERGY": {
        "TotalStartTime": "2024-01-01T00:00:00", "Total": 3.412, "Yesterday": 0.215,
        "Today": 0.073, "Power": 0, "ApparentPower": 0, "ReactivePower": 0, "Factor": 0.0,
        "Voltage": 0, "Current": 0.0}}),
    "bulb": ("Sonoff B1", [2], 2, {}),
    "th": ("Sonoff TH", [1], 0, {"AM2301": {"Temperature": 21.4, "Humidity": 52.1,
                                            "DewPoint": 11.2}, "TempUnit": "C"}),
    "dual": ("Sonoff Dual R2", [1, 1], 0, {}),
}


@dataclass
class TasmotaDevice:
    """One emulated Tasmota device."""

    topic: str
    mac: str
    kind: str
    name: str
    ip: str = "127.0.0.1"
    power: list[bool] = field(default_factory=list)
    dimmer: int = 100
    ct: int = 327
    sensors: dict[str, Any] = field(default_factory=dict)
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, payload) seen

    @property
    def relays(self) -> list[int]:
        """`rl`: relay kinds (8 entries)."""
        kinds = KINDS[self.kind][1]
        return kinds + [0] * (8 - len(kinds))

    def discovery(self) -> dict[str, Any]:
        """The `config` discovery message."""
        module, kinds, subtype, _ = KINDS[self.kind]
        names: list[str | None] = [self.name if i == 0 else f"{self.name} {i + 1}"
                                   for i in range(len(kinds))]
        names += [None] * (8 - len(names))
        return {
            "ip": self.ip, "dn": self.name, "fn": names, "hn": f"tasmota-{self.mac[-6:]}",
            "mac": self.mac, "md": module, "ty": 0, "if": 0, "ofln": "Offline",
            "onln": "Online", "state": ["OFF", "ON", "TOGGLE", "HOLD"], "sw": "13.4.0",
            "t": self.topic, "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"],
            "rl": self.relays, "swc": [-1] * 8, "swn": [None] * 8, "btn": [0] * 8,
            "so": {"4": 0, "11": 0, "13": 0, "17": 0, "20": 0, "30": 0, "68": 0, "73": 0,
                   "82": 0, "114": 0, "117": 0},
            "lk": 1, "lt_st": subtype, "bat": 0, "dslp": 0, "sho": [], "sht": [], "ver": 1,
        }

    def power_key(self, index: int) -> str:
        """`POWER` with one output, `POWER<n>` with several."""
        return "POWER" if len(self.power) == 1 else f"POWER{index + 1}"

    def state(self) -> dict[str, Any]:
        """A `tele/STATE` (and `STATE` command) payload."""
        out: dict[str, Any] = {"Time": "2024-06-01T12:00:00", "Uptime": "0T01:00:00",
                               "UptimeSec": 3600, "Heap": 25, "SleepMode": "Dynamic",
                               "Sleep": 50, "LoadAvg": 19, "MqttCount": 1}
        for i, on in enumerate(self.power):
            out[self.power_key(i)] = "ON" if on else "OFF"
        if KINDS[self.kind][2]:
            out.update({"Dimmer": self.dimmer, "Fade": "OFF", "Speed": 1, "LedTable": "ON"})
        if KINDS[self.kind][2] in (2, 5):
            out["CT"] = self.ct
        out["Wifi"] = {"AP": 1, "SSId": "home", "Channel": 6, "Mode": "11n", "RSSI": 76,
                       "Signal": -62, "LinkCount": 1, "Downtime": "0T00:00:03"}
        return out

    def sensor_payload(self) -> dict[str, Any]:
        """A `tele/SENSOR` payload (also `sn` of the sensors discovery message)."""
        return {"Time": "2024-06-01T12:00:00", **copy.deepcopy(self.sensors)}


class TasmotaEmulator:
    """One emulated Tasmota device with its own broker connection (and last will)."""

    def __init__(self, broker: BrokerSettings, topic: str, kind: str, *, mac: str | None = None,
                 name: str | None = None, discovery_prefix: str = "tasmota/discovery") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        self.discovery_prefix = discovery_prefix
        mac = (mac or f"A4CF12{zlib.crc32(topic.encode()) % 0xFFFFFF:06X}").upper()
        self.device = TasmotaDevice(topic, mac, kind, name or topic.replace("_", " ").title())
        self.device.power = [False] * len(KINDS[kind][1])
        self.device.sensors = copy.deepcopy(KINDS[kind][3])
        self.link = MqttLink(broker, name=f"tasmota-{topic}", max_payload_bytes=1 << 16,
                             will=aiomqtt.Will(f"tele/{topic}/LWT", b"Offline", 1, True),
                             on_connected=self._announce)

    @property
    def topic(self) -> str:
        """The device's MQTT topic."""
        return self.device.topic

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and announce the device."""
        await self.link.subscribe(f"cmnd/{self.topic}/+", self._on_command)
        await self.link.start()
        if not await self.link.wait_connected(timeout):
            raise RuntimeError(f"emulated Tasmota cannot reach the broker: {self.link.last_error}")

    async def stop(self) -> None:
        """Go offline as the will would say, then disconnect."""
        try:
            if self.link.connected:
                await self.link.publish(f"tele/{self.topic}/LWT", b"Offline", retain=True)
        except BrokerUnavailable:
            pass  # the broker is gone already: nobody to tell
        finally:
            await self.link.close()

    async def clear(self) -> None:
        """Remove the retained discovery and will messages (tests share a broker)."""
        for kind in ("config", "sensors"):
            await self.link.publish(f"{self.discovery_prefix}/{self.device.mac}/{kind}", b"",
                                    retain=True)
        await self.link.publish(f"tele/{self.topic}/LWT", b"", retain=True)

    async def _announce(self) -> None:
        device = self.device
        await self.link.publish(f"tele/{device.topic}/LWT", b"Online", retain=True)
        await self.link.publish(f"{self.discovery_prefix}/{device.mac}/config",
                                json.dumps(device.discovery()).encode(), retain=True)
        await self.link.publish(f"{self.discovery_prefix}/{device.mac}/sensors",
                                json.dumps({"sn": device.sensor_payload(), "ver": 1}).encode(),
                                retain=True)
        await self.telemetry()

    async def telemetry(self) -> None:
        """The periodic `tele/STATE` and `tele/SENSOR` (TelePeriod)."""
        device = self.device
        await self.link.publish(f"tele/{device.topic}/STATE", json.dumps(device.state()).encode())
        if device.sensors:
            await self.link.publish(f"tele/{device.topic}/SENSOR",
                                    json.dumps(device.sensor_payload()).encode())

    async def set_sensor(self, sensor: str, **values: Any) -> None:
        """New readings, sent as telemetry."""
        device = self.device
        device.sensors.setdefault(sensor, {}).update(values)
        await self.link.publish(f"tele/{device.topic}/SENSOR",
                                json.dumps(device.sensor_payload()).encode())

    async def press(self, index: int = 0) -> None:
        """The button on the device toggles an output."""
        device = self.device
        device.power[index] = not device.power[index]
        await self._result(device, {device.power_key(index): self._on_off(device, index)})
        await self._power_stat(device, index)

    @staticmethod
    def _on_off(device: TasmotaDevice, index: int) -> str:
        return "ON" if device.power[index] else "OFF"

    async def _result(self, device: TasmotaDevice, result: dict[str, Any]) -> None:
        await self.link.publish(f"stat/{device.topic}/RESULT", json.dumps(result).encode())

    async def _power_stat(self, device: TasmotaDevice, index: int) -> None:
        await self.link.publish(f"stat/{device.topic}/{device.power_key(index)}",
                                self._on_off(device, index).encode())

    async def _on_command(self, message: Inbound) -> None:
        _, topic, command = message.topic.split("/", 2)
        device = self.device
        payload = message.payload.decode("utf-8", "replace").strip()
        device.commands.append((command, payload))
        upper = command.upper()
        if upper.startswith("POWER"):
            await self._power(device, upper, payload)
        elif upper == "DIMMER" and KINDS[device.kind][2]:
            if payload.isdigit():
                device.dimmer = max(0, min(100, int(payload)))
                device.power[0] = device.dimmer > 0
            await self._result(device, {"POWER": self._on_off(device, 0),
                                        "Dimmer": device.dimmer})
        elif upper == "CT" and KINDS[device.kind][2] in (2, 5):
            if payload.isdigit():
                device.ct = max(153, min(500, int(payload)))
            await self._result(device, {"POWER": self._on_off(device, 0), "CT": device.ct})
        elif upper == "STATE":
            await self._result(device, device.state())
        elif upper == "STATUS" and payload == "10":
            await self.link.publish(f"stat/{topic}/STATUS10", json.dumps(
                {"StatusSNS": device.sensor_payload()}).encode())
        else:
            await self._result(device, {"Command": "Unknown"})

    async def _power(self, device: TasmotaDevice, command: str, payload: str) -> None:
        index = int(command[5:] or "1") - 1
        if not 0 <= index < len(device.power):
            await self._result(device, {"Command": "Unknown"})
            return
        word = payload.upper()
        if word in ("ON", "1"):
            device.power[index] = True
        elif word in ("OFF", "0"):
            device.power[index] = False
        elif word in ("TOGGLE", "2"):
            device.power[index] = not device.power[index]
        await self._result(device, {device.power_key(index): self._on_off(device, index)})
        await self._power_stat(device, index)
