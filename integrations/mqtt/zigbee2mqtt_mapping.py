"""Zigbee2MQTT's device list and `exposes` onto the hub's vocabulary (pure, no I/O).

`zigbee2mqtt/bridge/devices` (retained) lists every device with `ieee_address`, `friendly_name`
and `definition.exposes`. An expose is generic (`binary`, `numeric`, `enum`, `text`,
`composite`, `list`) or specific (`light`, `switch`, `climate`, `fan`, `cover`, `lock`) with
generic `features`. Every generic expose has `property` (the key in the device's state JSON) and
`access`, a bitmask: 1 = published in the state, 2 = settable with `/set`, 4 = readable with
`/get`. What the vocabulary has a word for becomes that property (`state` -> `power`,
`brightness` 0..254 -> 0..100 %, `color_temp` mireds -> `colour_temp` K, `occupancy` ->
`motion`, `system_mode` -> `power` + `mode` ...); anything else that is published becomes a
read-only `raw.<property>` text property, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.mqtt.errors import PayloadError
from integrations.mqtt.mapping import (
    Field,
    boolean,
    decode_lenient,
    factor,
    generic,
    identity,
    mired_to_kelvin,
    number,
    parse_object,
    scaled,
    suffix,
    unique_names,
    vocab,
)

_LOG = logging.getLogger(__name__)

STATE, SET, GET = 1, 2, 4

#: Zigbee2MQTT system_mode values <-> the vocabulary's modes ("off" is power false).
MODE_TO_HUB = {"auto": "auto", "cool": "cool", "heat": "heat", "dry": "dry", "fan_only": "fan"}
MODE_TO_DEVICE = {hub: raw for raw, hub in MODE_TO_HUB.items()}

#: Generic numeric/binary properties the vocabulary has a word for: property -> hub name.
READINGS = {
    "temperature": "temperature", "local_temperature": "temperature",
    "humidity": "humidity", "illuminance_lux": "illuminance", "battery": "battery_soc",
    "power": "power_w", "energy": "energy_kwh", "occupancy": "motion", "presence": "motion",
    "contact": "contact",
}
SETPOINTS = ("occupied_heating_setpoint", "current_heating_setpoint",
             "occupied_cooling_setpoint")


@dataclass(frozen=True, slots=True)
class Z2mDevice:
    """One device of the list, mapped."""

    ieee: str
    friendly_name: str
    model: str
    vendor: str
    description: str
    fields: tuple[Field, ...]
    gettable: tuple[str, ...] = ()
    climate_modes: tuple[str, ...] = ()  # raw system_mode values it accepts
    unmapped: tuple[str, ...] = field(default=())  # properties that became raw.*

    def decode(self, state: Mapping[str, Any],
               echo: Mapping[str, tuple[Any, Any]] | None = None,
               ) -> tuple[dict[str, Any], list[str]]:
        """Hub values from a state message, and the problems met (bad values are skipped)."""
        return decode_lenient(self.fields, state, echo)

    def echoes(self, changes: Mapping[str, Any],
               payload: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        """(raw sent, hub value) per changed property, for `decode(echo=...)`."""
        by_name = {f.name: f for f in self.fields}
        return {name: (payload[by_name[name].path[0]], value) for name, value in changes.items()
                if name in by_name and by_name[name].path[0] in payload
                and name not in ("power", "mode")}

    def encode(self, changes: Mapping[str, Any], last_mode: str | None = None) -> dict[str, Any]:
        """The `/set` payload for validated hub values."""
        by_name = {f.name: f for f in self.fields}
        out: dict[str, Any] = {}
        for name, value in changes.items():
            if name in ("power", "mode") and self.climate_modes:
                continue
            f = by_name.get(name)
            if f is None or f.to_device is None:
                raise PayloadError(f"{self.friendly_name} cannot set {name}")
            out[f.path[0]] = f.to_device(value)
        if self.climate_modes and ("power" in changes or "mode" in changes):
            out["system_mode"] = self._system_mode(changes, last_mode)
        return out

    def _system_mode(self, changes: Mapping[str, Any], last_mode: str | None) -> str:
        if changes.get("power") is False:
            return "off"
        mode = changes.get("mode") or last_mode
        if mode is None:
            mode = next((MODE_TO_HUB[m] for m in self.climate_modes if m in MODE_TO_HUB), "auto")
        return MODE_TO_DEVICE.get(str(mode), str(mode))


def _access(expose: Mapping[str, Any]) -> int:
    value = expose.get("access", STATE)
    return value if isinstance(value, int) and not isinstance(value, bool) else STATE


def _name(base: str, expose: Mapping[str, Any]) -> str:
    endpoint = expose.get("endpoint")
    return f"{base}.{suffix(endpoint)}" if endpoint else base


class _Builder:
    """Collects fields for one device while walking its exposes."""

    def __init__(self) -> None:
        self.fields: list[Field] = []
        self.gettable: list[str] = []
        self.climate_modes: tuple[str, ...] = ()
        self.unmapped: list[str] = []

    def walk(self, exposes: Any, parent: str = "") -> None:
        if not isinstance(exposes, list):
            raise PayloadError("definition.exposes must be a list")
        for expose in exposes:
            if not isinstance(expose, Mapping) or not isinstance(expose.get("type"), str):
                continue  # a future shape we do not know: skip it, keep the rest
            features = expose.get("features")
            if expose["type"] != "composite" and isinstance(features, list):
                self.walk(features, expose["type"])  # light, switch, climate, fan, cover, lock
            else:
                self.generic_expose(expose, parent)

    def generic_expose(self, e: Mapping[str, Any], parent: str) -> None:
        prop = e.get("property")
        if not isinstance(prop, str) or not prop:
            return
        access = _access(e)
        if access & GET:
            self.gettable.append(prop)
        if not access & STATE:
            return  # set-only (effects, identify): nothing is ever reported
        writable = bool(access & SET)
        kind = e["type"]
        name = e.get("name", prop)
        try:
            f = self.known(kind, name, prop, e, parent, writable)
        except (ValueError, TypeError) as err:
            _LOG.info("Zigbee2MQTT expose %s kept as raw: %s", prop, err)
            f = None
        if f is None:
            self.unmapped.append(prop)
            f = generic(prop, (prop,), str(e.get("description", "")))
        self.fields.append(f)

    def known(self, kind: str, name: str, prop: str, e: Mapping[str, Any], parent: str,
              writable: bool) -> Field | None:
        path = (prop,)
        if kind == "binary" and name == "state" and parent in ("light", "switch", "fan", ""):
            to_hub, to_dev = boolean(e.get("value_on", "ON"), e.get("value_off", "OFF"))
            spec = vocab(_name("power", e), writable=writable)
            return Field(spec, path, to_hub, to_dev if writable else None)
        if kind == "numeric" and name == "brightness":
            to_hub, to_dev = scaled(number(e.get("value_max", 254)))
            return Field(vocab(_name("brightness", e), writable=writable), path, to_hub,
                         to_dev if writable else None)
        if kind == "numeric" and name == "color_temp":
            lo, hi = e.get("value_min"), e.get("value_max")
            to_hub, to_dev = mired_to_kelvin(lo, hi)
            narrow: dict[str, Any] = {"writable": writable}
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > 0:
                narrow.update(minimum=round(1_000_000 / hi), maximum=round(1_000_000 / lo))
            return Field(vocab(_name("colour_temp", e), **narrow), path, to_hub,
                         to_dev if writable else None)
        if kind == "enum" and name == "system_mode":
            values = [v for v in e.get("values", []) if isinstance(v, str)]
            self.climate_modes = tuple(values)
            modes = [MODE_TO_HUB[v] for v in values if v in MODE_TO_HUB]
            off_to_dev = boolean("on", "off")[1]
            self.fields.append(Field(vocab(_name("power", e), writable=writable), path,
                                     lambda v: v != "off", off_to_dev if writable else None))
            return Field(vocab(_name("mode", e), writable=writable, choices=modes or None), path,
                         lambda v: None if v == "off" else MODE_TO_HUB.get(v, "other"), identity)
        if kind == "numeric" and name in SETPOINTS:
            base = _name("target_temperature", e)
            if any(f.name == base for f in self.fields):
                base = "target_temperature.cooling"
            narrow = {"writable": writable}
            for key, dst in (("value_min", "minimum"), ("value_max", "maximum"),
                             ("value_step", "step")):
                if isinstance(e.get(key), int | float):
                    narrow[dst] = e[key]
            return Field(vocab(base, **narrow), path, number,
                         identity if writable else None)
        hub = READINGS.get(name)
        if hub is None and name == "illuminance" and e.get("unit") in ("lx", "lux"):
            hub = "illuminance"
        if hub is None:
            return None
        if kind == "binary" and hub == "contact":
            # The value itself is "closed" (its value_on is false: "on" means open to HA).
            return Field(vocab(_name(hub, e)), path, boolean(True, False)[0])
        if kind == "binary":
            to_hub, _ = boolean(e.get("value_on", True), e.get("value_off", False))
            return Field(vocab(_name(hub, e)), path, to_hub)
        if kind == "numeric":
            convert = factor(0.001) if hub == "energy_kwh" and e.get("unit") == "Wh" else number
            return Field(vocab(_name(hub, e)), path, convert)
        return None


def map_device(entry: Mapping[str, Any]) -> Z2mDevice | None:
    """One entry of bridge/devices, or None for the coordinator and unsupported devices."""
    ieee = entry.get("ieee_address")
    name = entry.get("friendly_name")
    if not isinstance(ieee, str) or not isinstance(name, str) or not name:
        raise PayloadError("a device without ieee_address or friendly_name")
    definition = entry.get("definition")
    if entry.get("type") == "Coordinator" or not isinstance(definition, Mapping):
        return None
    if entry.get("interview_completed") is False:
        return None
    builder = _Builder()
    builder.walk(definition.get("exposes", []))
    return Z2mDevice(
        ieee=ieee,
        friendly_name=name,
        model=str(definition.get("model", "")),
        vendor=str(definition.get("vendor", "")),
        description=str(definition.get("description", "")),
        fields=tuple(unique_names(builder.fields)),
        gettable=tuple(dict.fromkeys(builder.gettable)),
        climate_modes=builder.climate_modes,
        unmapped=tuple(builder.unmapped),
    )


def map_devices(payload: Any) -> tuple[list[Z2mDevice], list[str]]:
    """Every usable device of a bridge/devices payload, and one problem line per bad entry."""
    if not isinstance(payload, list):
        raise PayloadError(f"bridge/devices must be a JSON list, got {type(payload).__name__}")
    devices: list[Z2mDevice] = []
    problems: list[str] = []
    for i, entry in enumerate(payload):
        if not isinstance(entry, Mapping):
            problems.append(f"entry {i} is not an object")
            continue
        try:
            mapped = map_device(entry)
        except PayloadError as err:
            problems.append(f"entry {i} ({entry.get('friendly_name', '?')}): {err}")
            continue
        if mapped is not None:
            devices.append(mapped)
    return devices, problems


def parse_availability(payload: bytes) -> bool | None:
    """`online`/`offline`, or `{"state": "online"}` (Zigbee2MQTT 1.x legacy and 2.x forms)."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        text = str(parse_object(payload).get("state", ""))
    if text in ("online", "offline"):
        return text == "online"
    if not text:
        return None  # a cleared retained message
    raise PayloadError(f'availability must be "online" or "offline", got {text[:40]!r}')
