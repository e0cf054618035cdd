"""Shelly Gen2/Gen3 components onto the hub's vocabulary (pure, no I/O).

A Gen2 device is a set of components, each keyed `<type>:<id>` in `Shelly.GetStatus`
(`switch:0`, `light:0`, `temperature:0`, `humidity:0`, `devicepower:0` ...). Notifications
(`NotifyStatus`, `NotifyFullStatus`) carry the same keys with the attributes that changed.
Commands are JSON-RPC 2.0 calls such as `Switch.Set {"id": 0, "on": true}` and
`Light.Set {"id": 0, "on": true, "brightness": 40}`. Energy counters (`aenergy.total`) are Wh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.mqtt.errors import PayloadError
from integrations.mqtt.mapping import (
    Field,
    decode_lenient,
    factor,
    generic,
    identity,
    number,
    unique_names,
    vocab,
)

#: Components the hub controls: type -> RPC namespace.
SETTABLE = {"switch": "Switch", "light": "Light"}
#: Read-only readings: (component type, attribute path) -> vocabulary name and converter.
READINGS: dict[tuple[str, tuple[str, ...]], tuple[str, Any]] = {
    ("switch", ("apower",)): ("power_w", number),
    ("switch", ("aenergy", "total")): ("energy_kwh", factor(0.001)),
    ("light", ("apower",)): ("power_w", number),
    ("light", ("aenergy", "total")): ("energy_kwh", factor(0.001)),
    ("pm1", ("apower",)): ("power_w", number),
    ("pm1", ("aenergy", "total")): ("energy_kwh", factor(0.001)),
    ("temperature", ("tC",)): ("temperature", number),
    ("humidity", ("rh",)): ("humidity", number),
    ("illuminance", ("lux",)): ("illuminance", number),
    ("devicepower", ("battery", "percent")): ("battery_soc", number),
}
IGNORED = {"sys", "wifi", "cloud", "mqtt", "ble", "eth", "ws", "ui", "knx", "matter",
           "bthome", "script", "schedule", "webhook", "kvs", "plugs_ui"}


def _component(key: str) -> tuple[str, int]:
    kind, _, index = key.partition(":")
    return kind, int(index) if index.isdigit() else 0


def _name(base: str, key: str, taken: set[str]) -> str:
    kind, index = _component(key)
    name = base if base not in taken else f"{base}.{kind}{index}"
    taken.add(name)
    return name


def _leaves(value: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for key, item in value.items():
        if isinstance(item, Mapping):
            out += _leaves(item, (*path, key))
        elif isinstance(item, bool | int | float | str):
            out.append((*path, key))
    return out


@dataclass(frozen=True, slots=True)
class ShellyDevice:
    """One Gen2+ device: identity from Shelly.GetDeviceInfo, fields from Shelly.GetStatus."""

    id: str  # also its default MQTT topic prefix
    prefix: str
    mac: str
    model: str
    app: str
    gen: int
    name: str
    firmware: str
    fields: tuple[Field, ...]

    def decode(self, status: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Hub values from a (partial) status: GetStatus, NotifyStatus or NotifyFullStatus."""
        return decode_lenient(self.fields, status)

    def calls(self, changes: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(method, params) for validated hub values: one call per component."""
        by_name = {f.name: f for f in self.fields}
        per_component: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            f = by_name.get(name)
            if f is None or f.to_device is None:
                raise PayloadError(f"{self.name} cannot set {name}")
            key, attribute = f.path[0], f.path[-1]
            argument = "on" if attribute == "output" else attribute
            per_component.setdefault(key, {})[argument] = f.to_device(value)
        out = []
        for key, params in per_component.items():
            kind, index = _component(key)
            out.append((f"{SETTABLE[kind]}.Set", {"id": index, **params}))
        return out


def map_device(prefix: str, info: Mapping[str, Any], status: Mapping[str, Any]) -> ShellyDevice:
    """A device from its GetDeviceInfo and GetStatus answers."""
    device_id = info.get("id")
    if not isinstance(device_id, str) or not device_id:
        raise PayloadError("Shelly.GetDeviceInfo answered without an id")
    gen = info.get("gen", 2)
    if not isinstance(gen, int) or gen < 2:
        raise PayloadError(f"{device_id} is generation {gen!r}; only Gen2 and later speak RPC")
    fields: list[Field] = []
    taken: set[str] = set()
    for key in sorted(status, key=lambda k: (_component(k)[0], _component(k)[1])):
        value = status[key]
        kind, _ = _component(key)
        if kind in IGNORED or not isinstance(value, Mapping):
            continue
        if kind in SETTABLE and "output" in value:
            fields.append(Field(vocab(_name("power", key, taken), writable=True),
                                (key, "output"), _bool, identity))
            if kind == "light" and "brightness" in value:
                fields.append(Field(vocab(_name("brightness", key, taken), writable=True),
                                    (key, "brightness"), lambda v: round(number(v)), int))
        for path in _leaves(value):
            if path in (("id",), ("output",), ("brightness",), ("source",)) or path[-1] == "tF":
                continue  # identity, handled above, or the same reading in Fahrenheit
            known = READINGS.get((kind, path))
            if known is not None:
                fields.append(Field(vocab(_name(known[0], key, taken)), (key, *path),
                                    known[1]))
            elif kind not in SETTABLE or path[0] in ("temperature", "voltage", "current"):
                fields.append(generic(f"{key.replace(':', '')}_{'_'.join(path)}",
                                      (key, *path)))
    return ShellyDevice(
        id=device_id, prefix=prefix, mac=str(info.get("mac", "")),
        model=str(info.get("model", "")), app=str(info.get("app", "")), gen=gen,
        name=str(info.get("name") or info.get("app") or device_id),
        firmware=str(info.get("ver", info.get("fw_id", ""))),
        fields=tuple(unique_names(fields)),
    )


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def parse_frame(payload: Mapping[str, Any]) -> tuple[str, Any]:
    """Classify a JSON-RPC frame: ("response", id), ("notify", method) or PayloadError."""
    if "method" in payload and isinstance(payload["method"], str):
        return "notify", payload["method"]
    if "id" in payload and ("result" in payload or "error" in payload):
        return "response", payload["id"]
    raise PayloadError("neither an RPC response (id + result/error) nor a notification")
