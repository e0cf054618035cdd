"""One property vocabulary shared by integrations, rules, API, TUI and voice skills.

A device exposes properties named after an entry here (``power``), optionally with a dotted
suffix when it has several of a kind (``temperature.outdoor``). The device may narrow the
vocabulary's spec (a smaller range, fewer choices) but never changes its type or unit.
Raw protocol values of devices we cannot map yet use ``raw.<code>`` names with hex strings.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class PropertyValueError(ValueError):
    """A value does not fit a property's type, range or choices."""


class ValueType(StrEnum):
    """The JSON-level type of a property value."""

    BOOL = "bool"  # true / false
    INT = "int"  # whole number, optional range
    FLOAT = "float"  # real number, optional range and step
    ENUM = "enum"  # one of `choices`
    STRING = "string"  # free text (raw hex for raw.* properties)
    LIST = "list"  # list of strings (e.g. the IR commands a device knows)


_BOOL, _INT, _FLOAT, _ENUM, _STRING = (
    ValueType.BOOL,
    ValueType.INT,
    ValueType.FLOAT,
    ValueType.ENUM,
    ValueType.STRING,
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)?$")


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """What one property is: type, unit, range or choices, and whether clients may write it."""

    name: str
    type: ValueType
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    writable: bool = False
    description: str = ""

    def narrowed(self, **changes: Any) -> PropertySpec:
        """A copy with some fields changed (range, choices, writable, name suffix)."""
        if "type" in changes or "unit" in changes:
            raise ValueError("a device may narrow a property but not change its type or unit")
        if "choices" in changes and changes["choices"] is not None:
            changes["choices"] = tuple(changes["choices"])
        return dataclasses.replace(self, **changes)

    def validate(self, value: Any) -> Any:
        """Return the value in canonical form, or raise PropertyValueError saying what is wrong."""
        t = self.type
        # Members bound once at import: a ValueType.X lookup goes through the enum's
        # metaclass, 65 ns each, and a number's report asked three of them (0.33 µs in all).
        if t is _BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("on", "off", "true", "false"):
                return value.lower() in ("on", "true")
            raise PropertyValueError(f'{self.name} takes true/false (or "on"/"off"), got {value!r}')
        if t is _FLOAT or t is _INT:
            kind = type(value)  # the usual two first: every report comes through here
            if (kind is not float and kind is not int) and (
                kind is bool or not isinstance(value, int | float)
            ):
                raise PropertyValueError(f"{self.name} takes a number, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise PropertyValueError(f"{self.name} takes a finite number, got {value!r}")
            if t is _INT:
                if isinstance(value, float) and not value.is_integer():
                    raise PropertyValueError(f"{self.name} takes a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            if self.minimum is not None and value < self.minimum:
                raise PropertyValueError(
                    f"{self.name} must be at least {self.minimum:g}{self._unit()}, got {value!r}"
                )
            if self.maximum is not None and value > self.maximum:
                raise PropertyValueError(
                    f"{self.name} must be at most {self.maximum:g}{self._unit()}, got {value!r}"
                )
            return value
        if t is _ENUM:
            if not isinstance(value, str) or (
                self.choices is not None and value not in self.choices
            ):
                allowed = ", ".join(self.choices or ())
                raise PropertyValueError(f"{self.name} takes one of: {allowed}; got {value!r}")
            return value
        if t is _STRING:
            if not isinstance(value, str):
                raise PropertyValueError(f"{self.name} takes a string, got {value!r}")
            return value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PropertyValueError(f"{self.name} takes a list of strings, got {value!r}")
        return list(value)

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form, omitting empty fields."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "writable": self.writable,
        }
        for key in ("unit", "minimum", "maximum", "step", "description"):
            val = getattr(self, key)
            if val not in (None, ""):
                out[key] = val
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropertySpec:
        """Inverse of to_dict."""
        choices = data.get("choices")
        return cls(
            name=data["name"],
            type=ValueType(data["type"]),
            unit=data.get("unit"),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            step=data.get("step"),
            choices=tuple(choices) if choices is not None else None,
            writable=bool(data.get("writable", False)),
            description=data.get("description", ""),
        )


def _p(name: str, type_: ValueType, **kw: Any) -> PropertySpec:
    return PropertySpec(name=name, type=type_, **kw)


_B, _I, _F, _E, _S, _L = (
    ValueType.BOOL,
    ValueType.INT,
    ValueType.FLOAT,
    ValueType.ENUM,
    ValueType.STRING,
    ValueType.LIST,
)

VOCABULARY: Mapping[str, PropertySpec] = {
    s.name: s
    for s in (
        _p("power", _B, writable=True, description="on (true) or off (false)"),
        _p(
            "mode",
            _E,
            writable=True,
            choices=("auto", "cool", "heat", "dry", "fan", "other"),
            description="air-conditioner operating mode",
        ),
        _p(
            "target_temperature",
            _F,
            unit="°C",
            minimum=0,
            maximum=50,
            step=0.5,
            writable=True,
            description="temperature set point",
        ),
        _p(
            "fan_speed",
            _E,
            writable=True,
            choices=("auto", "1", "2", "3", "4", "5", "6", "7", "8"),
            description="air flow: auto or a level from 1 (lowest) up",
        ),
        _p(
            "swing",
            _E,
            writable=True,
            choices=("off", "vertical", "horizontal", "both"),
            description="louvre swing",
        ),
        _p(
            "brightness",
            _I,
            unit="%",
            minimum=0,
            maximum=100,
            writable=True,
            description="light level",
        ),
        _p(
            "colour_temp",
            _I,
            unit="K",
            minimum=1000,
            maximum=10000,
            writable=True,
            description="white colour temperature of a light (warm 2700 K, cool 6500 K)",
        ),
        _p(
            "light_mode",
            _E,
            writable=True,
            choices=("auto", "normal", "night", "colour"),
            description="lighting scene of the fixture",
        ),
        _p("temperature", _F, unit="°C", minimum=-127, maximum=125, description="measured"),
        _p("humidity", _F, unit="%", minimum=0, maximum=100, description="relative humidity"),
        _p("illuminance", _F, unit="lx", minimum=0, description="measured light"),
        _p("motion", _B, description="motion detected"),
        _p("contact", _B, description="true when closed"),
        _p("power_w", _F, unit="W", description="instantaneous power (negative: export/discharge)"),
        _p("current_a", _F, unit="A", description="measured current (negative: reverse)"),
        _p("energy_kwh", _F, unit="kWh", minimum=0, description="cumulative energy"),
        _p(
            "energy_export_kwh",
            _F,
            unit="kWh",
            minimum=0,
            description="cumulative energy in the reverse direction (sold to the grid)",
        ),
        _p("battery_soc", _F, unit="%", minimum=0, maximum=100, description="state of charge"),
        _p(
            "battery_mode",
            _E,
            writable=True,
            choices=(
                "rapid_charge",
                "charge",
                "discharge",
                "standby",
                "test",
                "auto",
                "restart",
                "recalculate",
                "other",
            ),
            description="storage battery operation",
        ),
        _p(
            "heater_mode",
            _E,
            writable=True,
            choices=("auto", "heat", "stop"),
            description="water heater automatic heating setting",
        ),
        _p("hot_water_supply", _B, description="hot water is being supplied"),
        _p("tank_litres", _F, unit="L", minimum=0, description="remaining hot water"),
        _p(
            "volume",
            _I,
            unit="%",
            minimum=0,
            maximum=100,
            writable=True,
            description="audio volume",
        ),
        _p("ir_commands", _L, description="named IR commands this device can send"),
        _p("rssi", _I, unit="dBm", description="radio signal strength"),
        _p("raw", _S, description="a protocol value in hex, for properties not yet mapped"),
    )
}


def base_name(name: str) -> str:
    """`temperature.outdoor` -> `temperature`; `raw.80` -> `raw`."""
    return name.split(".", 1)[0]


def spec_for(name: str, **narrow: Any) -> PropertySpec:
    """The vocabulary spec for a property name (suffix allowed), optionally narrowed."""
    if not _NAME_RE.match(name):
        raise PropertyValueError(
            f"{name!r} is not a property name (lower-case words, optionally '.suffix')"
        )
    try:
        base = VOCABULARY[base_name(name)]
    except KeyError:
        known = ", ".join(sorted(VOCABULARY))
        raise PropertyValueError(f"{name!r} is not in the vocabulary; known: {known}") from None
    return base.narrowed(name=name, **narrow)


def raw_property(code: str, *, writable: bool = False, description: str = "") -> PropertySpec:
    """A raw protocol property (hex string value), e.g. an ECHONET EPC we do not map."""
    return spec_for(f"raw.{code.lower()}", writable=writable, description=description)
