"""Building blocks shared by the three families: one hub property <-> one value in a JSON state.

A `Field` names the hub property (a vocabulary spec), where its raw value sits in the device's
JSON (`path`), and how to convert both ways. Decoding is per field: a value of the wrong type is
skipped and reported, the others still apply (the device keeps what it had for the bad one).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hub.model import PropertySpec, PropertyValueError
from hub.model.vocabulary import raw_property, spec_for
from integrations.mqtt.errors import PayloadError

Convert = Callable[[Any], Any]

_UNSAFE = re.compile(r"[^a-z0-9_]+")


def suffix(text: str) -> str:
    """A property-name suffix from any text: `L1` -> `l1`, `Power Factor` -> `power_factor`."""
    return _UNSAFE.sub("_", str(text).lower()).strip("_") or "x"


def parse_json(payload: bytes) -> Any:
    """JSON from a payload, or PayloadError saying what is wrong."""
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        shown = payload[:60].decode("utf-8", "replace")
        raise PayloadError(f"expected JSON, got {shown!r} ({err})") from None


def parse_object(payload: bytes) -> dict[str, Any]:
    """A JSON object from a payload, or PayloadError."""
    value = parse_json(payload)
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------- converters
def number(value: Any) -> float:
    """A finite JSON number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def scaled(raw_max: float, hub_max: float = 100.0, digits: int = 0) -> tuple[Convert, Convert]:
    """Linear scaling raw 0..raw_max <-> hub 0..hub_max (brightness 0-254 <-> 0-100 %)."""
    def to_hub(value: Any) -> Any:
        out = round(number(value) * hub_max / raw_max, digits)
        return int(out) if digits == 0 else out

    def to_device(value: Any) -> Any:
        return round(float(value) * raw_max / hub_max)
    return to_hub, to_device


def factor(multiplier: float) -> Convert:
    """A number times a constant (Wh -> kWh)."""
    return lambda value: round(number(value) * multiplier, 6)


def mired_to_kelvin(lo: float | None = None, hi: float | None = None) -> tuple[Convert, Convert]:
    """Colour temperature in mireds (Zigbee, Tasmota) <-> kelvin (the vocabulary)."""
    def to_hub(value: Any) -> int:
        m = number(value)
        if m <= 0:
            raise ValueError(f"expected a positive mired value, got {value!r}")
        return round(1_000_000 / m)

    def to_device(value: Any) -> int:
        m = round(1_000_000 / float(value))
        if lo is not None:
            m = max(int(lo), m)
        if hi is not None:
            m = min(int(hi), m)
        return m
    return to_hub, to_device


def boolean(on: Any, off: Any) -> tuple[Convert, Convert]:
    """A two-valued raw value (`"ON"`/`"OFF"`, true/false) <-> bool."""
    def to_hub(value: Any) -> bool:
        if value == on:
            return True
        if value == off:
            return False
        if isinstance(on, str) and isinstance(value, str) and value.upper() in (
                str(on).upper(), str(off).upper()):
            return value.upper() == str(on).upper()
        raise ValueError(f"expected {on!r} or {off!r}, got {value!r}")
    return to_hub, lambda value: on if value else off


def text(value: Any) -> str:
    """Any JSON value as text for a generic raw.* property."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def identity(value: Any) -> Any:
    """No conversion."""
    return value


@dataclass(frozen=True, slots=True)
class Field:
    """One hub property backed by one raw value."""

    spec: PropertySpec
    path: tuple[str, ...]
    to_hub: Convert = identity
    to_device: Convert | None = None

    @property
    def name(self) -> str:
        """The hub property name."""
        return self.spec.name

    def read(self, state: Mapping[str, Any]) -> tuple[bool, Any]:
        """(found, hub value) from a JSON state; ValueError when the raw value is unusable."""
        node: Any = state
        for key in self.path:
            if not isinstance(node, Mapping) or key not in node:
                return False, None
            node = node[key]
        if node is None:
            return False, None  # devices send null for "not measured yet"
        value = self.to_hub(node)
        if value is None:
            return False, None  # a raw value with no hub meaning (a climate's mode while off)
        return True, self.spec.validate(value)


def generic(name: str, path: tuple[str, ...], description: str = "") -> Field:
    """A read-only raw.<name> property for something the vocabulary has no word for."""
    return Field(raw_property(suffix(name), description=description), path, text)


def decode_lenient(fields: Iterable[Field], state: Mapping[str, Any],
                   echo: Mapping[str, tuple[Any, Any]] | None = None,
                   ) -> tuple[dict[str, Any], list[str]]:
    """Hub values from a state and a list of the problems met.

    `echo` maps a property to (raw value last sent, hub value asked for): when the device
    reports exactly that raw value, the hub value asked for is reported, so a conversion that
    does not round-trip (kelvin -> mireds -> kelvin) still confirms the command.
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields:
        try:
            found, value = f.read(state)
        except (ValueError, TypeError, PropertyValueError, ZeroDivisionError) as err:
            problems.append(f"{'.'.join(f.path)} ({f.name}): {err}")
            continue
        if found:
            sent = echo.get(f.name) if echo else None
            if sent is not None and _at(state, f.path) == sent[0]:
                value = sent[1]
            values[f.name] = value
    return values, problems


def _at(state: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = state
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def vocab(name: str, **narrow: Any) -> PropertySpec:
    """`spec_for` (re-exported so family modules import from one place)."""
    return spec_for(name, **narrow)


def unique_names(fields: list[Field]) -> list[Field]:
    """Drop later fields whose property name is already taken (first wins)."""
    seen: set[str] = set()
    out = []
    for f in fields:
        if f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out
