"""An emulated Shelly Gen2 device speaking JSON-RPC 2.0 over MQTT.

Written from Shelly's Gen2 API documentation (RPC protocol, RPC channels, notifications, the
MQTT component). With the default topic prefix (the device id) it:
- publishes `<id>/online` `true` (retained; its will says `false`),
- answers requests on `<id>/rpc` on `<src>/rpc` with `{"id", "src", "dst", "result"|"error"}`,
- sends `NotifyFullStatus` after connecting and `NotifyStatus` after every change on
  `<id>/events/rpc` (`{"src", "dst": "<id>/events", "method", "params": {"ts", ...}}`).
Methods: Shelly.GetDeviceInfo, Shelly.GetStatus, Switch.Set/Toggle/GetStatus,
Light.Set/GetStatus. Unknown methods get error 404, bad arguments error -103.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from integrations.mqtt.config import BrokerSettings
from integrations.mqtt.errors import BrokerUnavailable
from integrations.mqtt.link import Inbound, MqttLink

_LOG = logging.getLogger(__name__)

#: kind -> (id stem, model, app, initial component status)
KINDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "plus1pm": ("shellyplus1pm", "SNSW-001P16EU", "Plus1PM", {
        "switch:0": {"id": 0, "source": "init", "output": False, "apower": 0.0,
                     "voltage": 229.8, "current": 0.0,
                     "aenergy": {"total": 1523.42, "by_minute": [0.0, 0.0, 0.0],
                                 "minute_ts": 1717243200},
                     "temperature": {"tC": 38.2, "tF": 100.8}},
        "input:0": {"id": 0, "state": False},
    }),
    "plusht": ("shellyplusht", "SNSN-0013A", "PlusHT", {
        "temperature:0": {"id": 0, "tC": 22.4, "tF": 72.3},
        "humidity:0": {"id": 0, "rh": 47.1},
        "devicepower:0": {"id": 0, "battery": {"V": 5.9, "percent": 84},
                          "external": {"present": False}},
    }),
    "dimmer": ("shellydimmerg3", "S3DM-0010WW", "DimmerG3", {
        "light:0": {"id": 0, "source": "init", "output": False, "brightness": 60},
    }),
}
COMMON = {
    "sys": {"mac": "", "restart_required": False, "uptime": 3600, "ram_free": 120000},
    "wifi": {"sta_ip": "127.0.0.1", "status": "got ip", "ssid": "home", "rssi": -58},
    "mqtt": {"connected": True}, "cloud": {"connected": False},
}


@dataclass
class ShellyState:
    """What the emulated device holds."""

    device_id: str
    mac: str
    kind: str
    status: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (method, params)


class ShellyEmulator:
    """One emulated Gen2 device with its own broker connection."""

    def __init__(self, broker: BrokerSettings, kind: str, mac: str, *,
                 prefix: str | None = None, name: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        stem, self.model, self.app, status = KINDS[kind]
        mac = mac.upper()
        device_id = f"{stem}-{mac.lower()}"
        self.prefix = prefix or device_id
        self.name = name
        full = {**copy.deepcopy(COMMON), **copy.deepcopy(status)}
        full["sys"]["mac"] = mac
        self.state = ShellyState(device_id, mac, kind, full)
        self.link = MqttLink(broker, name=f"shelly-{device_id}", max_payload_bytes=1 << 16,
                             will=aiomqtt.Will(f"{self.prefix}/online", b"false", 1, True),
                             on_connected=self._announce)

    @property
    def device_id(self) -> str:
        """`shellyplus1pm-a8032ab12345`."""
        return self.state.device_id

    async def start(self, timeout: float = 10.0) -> None:
        """Connect, say online, send the full status."""
        await self.link.subscribe(f"{self.prefix}/rpc", self._on_rpc)
        await self.link.start()
        if not await self.link.wait_connected(timeout):
            raise RuntimeError(f"emulated Shelly cannot reach the broker: {self.link.last_error}")

    async def stop(self, *, clear: bool = False) -> None:
        """Say offline (or clear the retained flag) and disconnect."""
        try:
            if self.link.connected:
                await self.link.publish(f"{self.prefix}/online", b"" if clear else b"false",
                                        retain=True)
        except BrokerUnavailable:
            pass  # the broker is gone already: nobody to tell
        finally:
            await self.link.close()

    async def _announce(self) -> None:
        await self.link.publish(f"{self.prefix}/online", b"true", retain=True)
        await self._notify("NotifyFullStatus", copy.deepcopy(self.state.status))

    async def _notify(self, method: str, params: dict[str, Any]) -> None:
        frame = {"src": self.device_id, "dst": f"{self.prefix}/events", "method": method,
                 "params": {"ts": round(time.time(), 2), **params}}
        await self.link.publish(f"{self.prefix}/events/rpc", json.dumps(frame).encode())

    async def change(self, component: str, **values: Any) -> None:
        """Something changed at the device (a reading, the button): NotifyStatus."""
        self.state.status[component].update(values)
        await self._notify("NotifyStatus", {component: {"id": self.state.status[component].get(
            "id", 0), **values}})

    def device_info(self) -> dict[str, Any]:
        """Shelly.GetDeviceInfo."""
        return {"name": self.name, "id": self.device_id, "mac": self.state.mac,
                "slot": 0, "model": self.model, "gen": 2, "fw_id": "20240819-074343/1.4.2",
                "ver": "1.4.2", "app": self.app, "auth_en": False, "auth_domain": None}

    async def _on_rpc(self, message: Inbound) -> None:
        try:
            frame = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return  # a real device ignores frames it cannot parse
        if not isinstance(frame, Mapping) or not isinstance(frame.get("src"), str):
            return  # without src there is nowhere to answer
        request_id, method = frame.get("id"), frame.get("method")
        params = frame.get("params") or {}
        self.state.calls.append((str(method), dict(params) if isinstance(params, Mapping)
                                 else {}))
        answer: dict[str, Any] = {"id": request_id, "src": self.device_id, "dst": frame["src"]}
        try:
            answer["result"], changed = self._handle(str(method), params)
        except _RpcError as err:
            answer["error"] = {"code": err.code, "message": err.message}
            changed = None
        await self.link.publish(f"{frame['src']}/rpc", json.dumps(answer).encode())
        if changed:
            await self._notify("NotifyStatus", changed)

    def _handle(self, method: str, params: Any) -> tuple[Any, dict[str, Any] | None]:
        status = self.state.status
        if method == "Shelly.GetDeviceInfo":
            return self.device_info(), None
        if method == "Shelly.GetStatus":
            return copy.deepcopy(status), None
        namespace, _, verb = method.partition(".")
        kind = namespace.lower()
        if kind not in ("switch", "light") or verb not in ("Set", "Toggle", "GetStatus"):
            raise _RpcError(404, f"No handler for {method}")
        if not isinstance(params, Mapping) or not isinstance(params.get("id"), int):
            raise _RpcError(-103, "Invalid argument 'id': expected number")
        key = f"{kind}:{params['id']}"
        if key not in status:
            raise _RpcError(-105, f"Argument 'id', value {params['id']} not found!")
        component = status[key]
        if verb == "GetStatus":
            return copy.deepcopy(component), None
        was_on = component["output"]
        update: dict[str, Any] = {}
        if verb == "Toggle":
            update["output"] = not was_on
        else:
            if "on" in params:
                if not isinstance(params["on"], bool):
                    raise _RpcError(-103, "Invalid argument 'on': expected boolean")
                update["output"] = params["on"]
            if kind == "light" and "brightness" in params:
                level = params["brightness"]
                if isinstance(level, bool) or not isinstance(level, int | float) or not (
                        0 <= level <= 100):
                    raise _RpcError(-103, "Invalid argument 'brightness'")
                update["brightness"] = round(level)
        update["source"] = "MQTT"
        if kind == "switch" and "output" in update:
            update["apower"] = 0.0 if not update["output"] else component.get("apower", 0.0)
        component.update(update)
        return {"was_on": was_on}, {key: {"id": params["id"], **update}}


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
