"""ESPHome entities onto the hub vocabulary, and hub values back into entity commands. No I/O.

Each entity yields one or more properties (a light: ``power`` and ``brightness``). The first
entity (in the device's listing order, which follows its YAML) to claim a name keeps it bare; an
entity that would reuse a claimed name gets its object id as suffix on all of its properties
(relay ``power``, lamp ``power.lamp`` + ``brightness.lamp``), so one entity's properties always
share one suffix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aioesphomeapi import (
    BinarySensorInfo,
    BinarySensorState,
    ClimateInfo,
    ClimateMode,
    ClimateState,
    EntityInfo,
    EntityState,
    FanInfo,
    FanState,
    LightInfo,
    LightState,
    SensorInfo,
    SensorState,
    SwitchInfo,
    SwitchState,
)

from hub.model import PropertySpec, PropertyValueError, base_name, spec_for
from integrations.errors import CommandFailed

# (vocabulary name, scale, offset): hub value = device value * scale + offset
_Conversion = tuple[str, float, float]

_BY_DEVICE_CLASS: Mapping[str, Mapping[str, _Conversion]] = {
    "temperature": {
        "°C": ("temperature", 1.0, 0.0),
        "°F": ("temperature", 5 / 9, -32 * 5 / 9),
        "K": ("temperature", 1.0, -273.15),
    },
    "humidity": {"%": ("humidity", 1.0, 0.0)},
    "illuminance": {"lx": ("illuminance", 1.0, 0.0)},
    "power": {"W": ("power_w", 1.0, 0.0), "kW": ("power_w", 1000.0, 0.0)},
    "energy": {
        "kWh": ("energy_kwh", 1.0, 0.0),
        "Wh": ("energy_kwh", 0.001, 0.0),
        "MWh": ("energy_kwh", 1000.0, 0.0),
    },
    "battery": {"%": ("battery_soc", 1.0, 0.0)},
    "signal_strength": {"dBm": ("rssi", 1.0, 0.0)},
}
# Without a device class, only units that mean one thing are trusted.
_BY_UNIT: Mapping[str, _Conversion] = {
    "°C": ("temperature", 1.0, 0.0),
    "°F": ("temperature", 5 / 9, -32 * 5 / 9),
    "lx": ("illuminance", 1.0, 0.0),
    "W": ("power_w", 1.0, 0.0),
    "kW": ("power_w", 1000.0, 0.0),
    "kWh": ("energy_kwh", 1.0, 0.0),
    "Wh": ("energy_kwh", 0.001, 0.0),
    "dBm": ("rssi", 1.0, 0.0),
}
_MOTION_CLASSES = frozenset({"motion", "occupancy", "presence", "moving"})
# ESPHome: on = open; the hub's contact is true when closed
_CONTACT_CLASSES = frozenset({"door", "window", "opening", "garage_door"})

_CLIMATE_TO_HUB: Mapping[ClimateMode, str] = {
    ClimateMode.AUTO: "auto",
    ClimateMode.HEAT_COOL: "auto",
    ClimateMode.COOL: "cool",
    ClimateMode.HEAT: "heat",
    ClimateMode.DRY: "dry",
    ClimateMode.FAN_ONLY: "fan",
}
_MAX_FAN_LEVEL = 8  # the vocabulary's fan_speed goes up to 8


@dataclass(frozen=True, slots=True)
class Binding:
    """How one hub property relates to one part of one entity."""

    prop: str
    kind: str  # sensor, binary_sensor, switch, light, fan, climate
    key: int
    part: str  # state, brightness, speed_level, mode, target_temperature, current_temperature
    scale: float = 1.0
    offset: float = 0.0
    invert: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """One entity command: the client method's keyword arguments."""

    kind: str
    key: int
    args: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EntityMap:
    """The properties of one device and how each maps to its entities."""

    specs: Mapping[str, PropertySpec]
    bindings: Mapping[str, Binding]
    by_key: Mapping[int, tuple[Binding, ...]]
    climate_modes: Mapping[int, tuple[ClimateMode, ...]] = field(default_factory=dict)
    unmapped: tuple[str, ...] = ()  # object ids the vocabulary has no word for

    def values_for(self, state: EntityState) -> dict[str, Any]:
        """Hub values carried by one state update (empty when unknown or missing)."""
        out: dict[str, Any] = {}
        if getattr(state, "missing_state", False):
            return out
        for b in self.by_key.get(state.key, ()):
            value = _read(b, state)
            if value is None:
                continue
            try:
                out[b.prop] = self.specs[b.prop].validate(value)
            except PropertyValueError:
                continue  # e.g. a sensor outside the vocabulary's range: drop, do not crash
        return out

    def commands_for(
        self, changes: Mapping[str, Any], last_modes: Mapping[int, ClimateMode]
    ) -> list[Command]:
        """Entity commands applying desired values; CommandFailed when something cannot be set."""
        grouped: dict[int, dict[str, Any]] = {}
        kinds: dict[int, str] = {}
        for prop, raw in changes.items():
            b = self.bindings.get(prop)
            spec = self.specs.get(prop)
            if b is None or spec is None or not spec.writable:
                raise CommandFailed(f"{prop} cannot be set on this ESPHome device")
            try:
                value = spec.validate(raw)
            except PropertyValueError as err:
                raise CommandFailed(str(err)) from err
            kinds[b.key] = b.kind
            grouped.setdefault(b.key, {})[b.part] = value
        return [
            self._command(kinds[key], key, parts, last_modes.get(key))
            for key, parts in grouped.items()
        ]

    def _command(
        self, kind: str, key: int, parts: Mapping[str, Any], last_mode: ClimateMode | None
    ) -> Command:
        if kind == "switch":
            return Command(kind, key, {"state": bool(parts["state"])})
        if kind == "light":
            args: dict[str, Any] = {}
            if "state" in parts:
                args["state"] = bool(parts["state"])
            if "brightness" in parts:
                args["brightness"] = parts["brightness"] / 100.0
            return Command(kind, key, args)
        if kind == "fan":
            args = {}
            if "state" in parts:
                args["state"] = bool(parts["state"])
            if "speed_level" in parts:
                if parts["speed_level"] == "auto":
                    raise CommandFailed("this ESPHome fan has no auto speed; choose a level")
                args["speed_level"] = int(parts["speed_level"])
            return Command(kind, key, args)
        return Command(kind, key, self._climate_args(key, parts, last_mode))

    def _climate_args(
        self, key: int, parts: Mapping[str, Any], last_mode: ClimateMode | None
    ) -> dict[str, Any]:
        supported = self.climate_modes.get(key, ())
        args: dict[str, Any] = {}
        if "mode" in parts:
            args["mode"] = _climate_mode(parts["mode"], supported)
        if parts.get("state") is False:
            args["mode"] = ClimateMode.OFF
        elif parts.get("state") is True and "mode" not in args:
            on_modes = [m for m in supported if m is not ClimateMode.OFF]
            if last_mode is not None and last_mode is not ClimateMode.OFF:
                args["mode"] = last_mode
            elif on_modes:
                args["mode"] = on_modes[0]
            else:
                raise CommandFailed("this thermostat has no mode to turn on into")
        if "target_temperature" in parts:
            args["target_temperature"] = float(parts["target_temperature"])
        return args


def _climate_mode(hub_mode: str, supported: Sequence[ClimateMode]) -> ClimateMode:
    for mode in supported:
        if _CLIMATE_TO_HUB.get(mode) == hub_mode:
            return mode
    raise CommandFailed(f"this thermostat has no {hub_mode} mode")


def _read(b: Binding, state: EntityState) -> Any:
    if isinstance(state, SensorState):
        if not math.isfinite(state.state):
            return None
        value = state.state * b.scale + b.offset
        return round(value) if base_name(b.prop) == "rssi" else round(value, 4)
    if isinstance(state, BinarySensorState | SwitchState):
        return bool(state.state) != b.invert
    if isinstance(state, LightState):
        if b.part == "brightness":
            return round(state.brightness * 100)
        return bool(state.state)
    if isinstance(state, FanState):
        if b.part == "speed_level":
            return str(min(max(state.speed_level, 1), _MAX_FAN_LEVEL))
        return bool(state.state)
    if isinstance(state, ClimateState):
        mode = state.mode
        if b.part == "state":
            return mode is not None and mode is not ClimateMode.OFF
        if b.part == "mode":
            return _CLIMATE_TO_HUB.get(mode) if mode is not None else None
        value = getattr(state, b.part)
        return round(float(value), 2) if math.isfinite(value) else None
    return None


# (base property, part, spec narrowing, binding extras) for one entity
_Part = tuple[str, str, dict[str, Any], dict[str, Any]]


def _parts(info: EntityInfo) -> tuple[str, list[_Part]]:
    """The kind of an entity and the properties it yields (empty: not mapped)."""
    if isinstance(info, SensorInfo):
        conv = _BY_DEVICE_CLASS.get(info.device_class, {}).get(info.unit_of_measurement)
        if conv is None and not info.device_class:
            conv = _BY_UNIT.get(info.unit_of_measurement)
        if conv is None:
            return "sensor", []
        name, scale, offset = conv
        return "sensor", [(name, "state", {}, {"scale": scale, "offset": offset})]
    if isinstance(info, BinarySensorInfo):
        if info.device_class in _MOTION_CLASSES:
            return "binary_sensor", [("motion", "state", {}, {})]
        if info.device_class in _CONTACT_CLASSES:
            return "binary_sensor", [("contact", "state", {}, {"invert": True})]
        return "binary_sensor", []
    if isinstance(info, SwitchInfo):
        return "switch", [("power", "state", {}, {})]
    if isinstance(info, LightInfo):
        parts: list[_Part] = [("power", "state", {}, {})]
        # any colour mode above plain on/off (ColorMode 1) carries a brightness
        if any(int(m) > 1 for m in info.supported_color_modes) or info.legacy_supports_brightness:
            parts.append(("brightness", "brightness", {}, {}))
        return "light", parts
    if isinstance(info, FanInfo):
        parts = [("power", "state", {}, {})]
        if info.supports_speed and info.supported_speed_count > 0:
            levels = min(info.supported_speed_count, _MAX_FAN_LEVEL)
            choices = tuple(str(i) for i in range(1, levels + 1))
            parts.append(("fan_speed", "speed_level", {"choices": choices}, {}))
        return "fan", parts
    if isinstance(info, ClimateInfo):
        choices = tuple(dict.fromkeys(
            _CLIMATE_TO_HUB[m] for m in info.supported_modes if m in _CLIMATE_TO_HUB
        ))
        target: dict[str, Any] = {}
        if info.visual_max_temperature > info.visual_min_temperature:
            target = {"minimum": max(0.0, info.visual_min_temperature),
                      "maximum": min(50.0, info.visual_max_temperature)}
        parts = [("power", "state", {}, {})]
        if choices:
            parts.append(("mode", "mode", {"choices": choices}, {}))
        parts.append(("target_temperature", "target_temperature", target, {}))
        if info.supports_current_temperature or info.feature_flags & 1:
            parts.append(("temperature", "current_temperature", {}, {}))
        return "climate", parts
    return "", []


_SUFFIX_UNSAFE = re.compile(r"[^a-z0-9_]+")


def _suffix(info: EntityInfo) -> str:
    text = _SUFFIX_UNSAFE.sub("_", (info.object_id or info.name).lower()).strip("_")
    return text or f"k{info.key:x}"


def build_entity_map(entities: Iterable[EntityInfo]) -> EntityMap:
    """Map a device's entities onto vocabulary properties."""
    found: list[tuple[EntityInfo, str, list[_Part]]] = []
    unmapped: list[str] = []
    for info in entities:
        kind, parts = _parts(info)
        if parts:
            found.append((info, kind, parts))
        else:
            unmapped.append(info.object_id or info.name)
    claimed: set[str] = set()
    specs: dict[str, PropertySpec] = {}
    bindings: dict[str, Binding] = {}
    by_key: dict[int, list[Binding]] = {}
    climate_modes: dict[int, tuple[ClimateMode, ...]] = {}
    for info, kind, parts in found:
        clash = any(base in claimed for base, *_ in parts)
        claimed.update(base for base, *_ in parts)
        for base, part, narrow, extras in parts:
            prop = f"{base}.{_suffix(info)}" if clash else base
            if prop in specs:  # two entities with the same object id: keep the first
                continue
            writable = kind in ("switch", "light", "fan", "climate") and part not in (
                "current_temperature",
            )
            spec = spec_for(prop, **narrow)
            if spec.writable != writable:
                spec = spec.narrowed(writable=writable)
            specs[prop] = spec
            binding = Binding(prop=prop, kind=kind, key=info.key, part=part, **extras)
            bindings[prop] = binding
            by_key.setdefault(info.key, []).append(binding)
        if isinstance(info, ClimateInfo):
            climate_modes[info.key] = tuple(info.supported_modes)
    return EntityMap(
        specs=specs,
        bindings=bindings,
        by_key={k: tuple(v) for k, v in by_key.items()},
        climate_modes=climate_modes,
        unmapped=tuple(unmapped),
    )
