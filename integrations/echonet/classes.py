"""Device classes and their properties, from the table generated out of the ECHONET MRA.

The table (`data/classes.json`) is written by `tools/gen_tables.py`; never edit it by hand.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

NODE_PROFILE_CLASS = 0x0EF0
SUPER_CLASS = 0x0000


@dataclass(frozen=True, slots=True)
class NumberRange:
    """A numeric EDT form: wire format, range, unit and scale (`multiple`)."""

    fmt: str
    minimum: float | None
    maximum: float | None
    unit: str | None
    multiple: float

    @property
    def size(self) -> int:
        """Bytes on the wire."""
        return {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4}[self.fmt]

    @property
    def signed(self) -> bool:
        """True for two's complement formats."""
        return self.fmt.startswith("int")


@dataclass(frozen=True, slots=True)
class EpcSpec:
    """One property of a class: access rules (r/rc/ro/o/-), EDT size range and data forms."""

    epc: int
    name: str
    get: str
    set: str
    inf: str
    size: tuple[int, int] | None
    data: tuple[Mapping[str, Any], ...]

    @property
    def settable(self) -> bool:
        """The spec allows Set (required or optional)."""
        return self.set != "-"

    def states(self) -> dict[int, str]:
        """Enumerated single-byte codes -> MRA names (e.g. 0x30 -> 'true')."""
        out: dict[int, str] = {}
        for form in self.data:
            if form["t"] == "state" and form.get("size") == [1, 1]:
                out.update({int(code, 16): name for code, name in form["enum"].items()})
        return out

    def number(self) -> NumberRange | None:
        """The numeric form, if the property has one."""
        for form in self.data:
            if form["t"] == "number":
                return NumberRange(form["fmt"], form.get("min"), form.get("max"),
                                   form.get("unit"), float(form.get("mul", 1)))
        return None

    def level(self) -> tuple[int, int] | None:
        """(base code, number of levels) for level forms such as air flow 0x31-0x38."""
        for form in self.data:
            if form["t"] == "level":
                return int(form["base"], 16), int(form["max"])
        return None


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """One device class: code, English name, MRA short name and its own EPCs."""

    code: int
    name: str
    short: str
    epcs: Mapping[int, EpcSpec]

    def epc(self, epc: int) -> EpcSpec | None:
        """The class's property, falling back to the device super class."""
        found = self.epcs.get(epc)
        if found is None and self.code != NODE_PROFILE_CLASS:
            found = _table()[SUPER_CLASS].epcs.get(epc)
        return found


def _class(code: int, raw: Mapping[str, Any]) -> ClassSpec:
    epcs = {
        int(k, 16): EpcSpec(
            epc=int(k, 16), name=v["name"], get=v["get"], set=v["set"], inf=v["inf"],
            size=tuple(v["size"]) if v["size"] is not None else None,  # type: ignore[arg-type]
            data=tuple(v["data"]),
        )
        for k, v in raw["epcs"].items()
    }
    return ClassSpec(code, raw["name"], raw["short"], epcs)


@functools.cache
def _table() -> dict[int, ClassSpec]:
    text = resources.files("integrations.echonet.data").joinpath("classes.json").read_text("utf-8")
    raw = json.loads(text)
    table = {int(code, 16): _class(int(code, 16), body) for code, body in raw["classes"].items()}
    table[SUPER_CLASS] = _class(SUPER_CLASS, raw["super"])
    return table


def class_spec(code: int) -> ClassSpec | None:
    """The class with this 16-bit code (e.g. 0x0130), None if the MRA does not know it."""
    return _table().get(code)


def class_name(code: int) -> str:
    """A readable class name, e.g. 'Home air conditioner', or 'ECHONET class 0x1234'."""
    spec = class_spec(code)
    return spec.name if spec is not None else f"ECHONET class {code:#06x}"


def all_classes() -> Mapping[int, ClassSpec]:
    """Every class in the table (the super class under 0x0000)."""
    return dict(_table())
