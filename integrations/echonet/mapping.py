"""ECHONET device classes mapped onto the hub's property vocabulary.

Each mapped class lists fields: a vocabulary property, the EPCs it is read from, a decoder
(EPC data -> value, None when the device reports "no data") and, for writable properties, an
encoder (value -> EDT of the first EPC). Classes we do not map appear as generic devices whose
EPCs are `raw.<epc>` hex strings. Whether a property is writable comes from the object's own
Set map (0x9E), so a read-only unit is never offered a write it would refuse.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.model import PropertySpec, PropertyValueError, raw_property, spec_for
from integrations.echonet.classes import class_name, class_spec
from integrations.echonet.propmap import MAP_EPCS
from integrations.errors import CommandFailed

Values = Mapping[int, bytes]
Decoder = Callable[[Values], Any]
Encoder = Callable[[Any], bytes]

AIRCON, METER, SOLAR, BATTERY, LIGHT, WATER_HEATER = 0x0130, 0x0288, 0x0279, 0x027D, 0x0290, 0x026B

POWER_CODES = {True: 0x30, False: 0x31}
AIRCON_MODES = {"auto": 0x41, "cool": 0x42, "heat": 0x43, "dry": 0x44, "fan": 0x45, "other": 0x40}
FAN_SPEEDS = {**{str(n): 0x30 + n for n in range(1, 9)}, "auto": 0x41}
BATTERY_MODES = {"rapid_charge": 0x41, "charge": 0x42, "discharge": 0x43, "standby": 0x44,
                 "test": 0x45, "auto": 0x46, "restart": 0x48, "recalculate": 0x49, "other": 0x40}
LIGHT_MODES = {"auto": 0x41, "normal": 0x42, "night": 0x43, "colour": 0x45}
HEATER_MODES = {"auto": 0x41, "heat": 0x42, "stop": 0x43}
HOT_WATER = {True: 0x41, False: 0x42}
# Multipliers of the smart meter's unit code 0xE1 (kWh per count).
METER_UNITS = {0x00: 1.0, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
               0x0A: 10.0, 0x0B: 100.0, 0x0C: 1000.0, 0x0D: 10000.0}


@dataclass(frozen=True, slots=True)
class Field:
    """One vocabulary property of a class and how it is read and written."""

    spec: PropertySpec
    epcs: tuple[int, ...]
    decode: Decoder
    encode: Encoder | None = None
    scale: float | None = None  # set for plain numbers: MRA range x scale narrows the spec

    @property
    def name(self) -> str:
        """The property name."""
        return self.spec.name

    @property
    def epc(self) -> int:
        """The EPC that carries (and receives) the value."""
        return self.epcs[0]


def _byte(values: Values, epc: int) -> int | None:
    edt = values.get(epc)
    return edt[0] if edt is not None and len(edt) == 1 else None


def _int(values: Values, epc: int, size: int, *, signed: bool = False) -> int | None:
    edt = values.get(epc)
    if edt is None or len(edt) != size:
        return None
    return int.from_bytes(edt, "big", signed=signed)


def _enum_field(spec: PropertySpec, epc: int, codes: Mapping[Any, int]) -> Field:
    reverse = {code: value for value, code in codes.items()}

    def decode(values: Values) -> Any:
        code = _byte(values, epc)
        return reverse.get(code) if code is not None else None

    def encode(value: Any) -> bytes:
        return bytes((codes[value],))

    return Field(spec, (epc,), decode, encode)


def _number_field(spec: PropertySpec, epc: int, size: int, *, signed: bool = False,
                  scale: float = 1.0, invalid: tuple[int, ...] = (),
                  minimum: float | None = None, maximum: float | None = None) -> Field:
    def decode(values: Values) -> Any:
        raw = _int(values, epc, size, signed=signed)
        if raw is None or raw in invalid:
            return None
        if (minimum is not None and raw < minimum) or (maximum is not None and raw > maximum):
            return None  # reserved codes (overflow, "unmeasurable") are not readings
        value = raw * scale
        return value if spec.type.value == "float" else int(value)

    def encode(value: Any) -> bytes:
        counts = float(value) / scale
        if abs(counts - round(counts)) > 1e-6:
            unit = f" {spec.unit}" if spec.unit else ""
            raise ValueError(f"{spec.name} goes in steps of {scale:g}{unit}")
        return round(counts).to_bytes(size, "big", signed=signed)

    return Field(spec, (epc,), decode, encode, scale)


def _power_field() -> Field:
    return _enum_field(spec_for("power"), 0x80, POWER_CODES)


def _meter_energy(name: str, epc: int) -> Field:
    def decode(values: Values) -> Any:
        count = _int(values, epc, 4)
        if count is None or count >= 0xFFFFFFFE:
            return None
        return meter_energy_kwh(values, count)

    return Field(spec_for(name), (epc, 0xD3, 0xE1), decode)


def _aircon() -> tuple[Field, ...]:
    return (
        _power_field(),
        _enum_field(spec_for("mode"), 0xB0, AIRCON_MODES),
        _number_field(spec_for("target_temperature", step=1), 0xB3, 1, maximum=50),
        _number_field(spec_for("temperature"), 0xBB, 1, signed=True, minimum=-127, maximum=125),
        _number_field(spec_for("humidity"), 0xBA, 1, maximum=100),
        _enum_field(spec_for("fan_speed"), 0xA0, FAN_SPEEDS),
    )


def _phase_current(name: str, offset: int) -> Field:
    """One phase of 0xE8: two signed 16-bit values in 0.1 A, R then T; 0x7FFE: no such phase
    (single-phase two-wire service has no T phase)."""

    def decode(values: Values) -> Any:
        edt = values.get(0xE8)
        if edt is None or len(edt) != 4:
            return None
        raw = int.from_bytes(edt[offset:offset + 2], "big", signed=True)
        return None if raw in (0x7FFE, -0x8000) else round(raw * 0.1, 1)

    return Field(spec_for(name), (0xE8,), decode)


def _meter() -> tuple[Field, ...]:
    return (
        _number_field(spec_for("power_w"), 0xE7, 4, signed=True,
                      minimum=-2147483647, maximum=2147483645),
        _phase_current("current_a.r", 0),
        _phase_current("current_a.t", 2),
        _meter_energy("energy_kwh", 0xE0),
        _meter_energy("energy_export_kwh", 0xE3),
    )


def meter_energy_kwh(values: Values, count: int) -> float | None:
    """A meter count in kWh with the coefficient (0xD3) and unit (0xE1) found in `values`."""
    coefficient = _int(values, 0xD3, 4) or 1  # absent coefficient means 1
    unit_code = _byte(values, 0xE1) if 0xE1 in values else 0x00
    unit = METER_UNITS.get(unit_code) if unit_code is not None else None
    return None if unit is None else round(count * coefficient * unit, 6)


# |-year-|mo|dd|hh|mm|ss|--count--|   0xEA/0xEB: the last 30-minute fixed-time reading
# |  2 B |1 |1 |1 |1 |1 |   4 B   |   (meter local time; count in 0xD3 x 0xE1 units)
FIXED_READING = struct.Struct(">HBBBBBI")
FIXED_EPCS = {0xEA: "energy_kwh.fixed", 0xEB: "energy_export_kwh.fixed"}


def fixed_reading(values: Values, epc: int) -> tuple[tuple[int, ...], float] | None:
    """(year, month, day, hour, minute, second) and kWh of a 0xEA/0xEB reading, or None when
    the meter has no reading yet (0xFFFFFFFE, or a date of all ones)."""
    edt = values.get(epc)
    if edt is None or len(edt) != FIXED_READING.size:
        return None
    year, month, day, hour, minute, second, count = FIXED_READING.unpack(edt)
    if count >= 0xFFFFFFFE or year == 0xFFFF or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    kwh = meter_energy_kwh(values, count)
    return None if kwh is None else ((year, month, day, hour, minute, second), kwh)


def _solar() -> tuple[Field, ...]:
    return (
        _number_field(spec_for("power_w", minimum=0), 0xE0, 2, maximum=65533),
        _number_field(spec_for("energy_kwh"), 0xE1, 4, scale=0.001, maximum=999999999),
    )


def _battery() -> tuple[Field, ...]:
    return (
        _number_field(spec_for("battery_soc"), 0xE4, 1, maximum=100),
        _enum_field(spec_for("battery_mode"), 0xDA, BATTERY_MODES),
        _number_field(spec_for("power_w"), 0xD3, 4, signed=True,
                      minimum=-999999999, maximum=999999999),
    )


def _light() -> tuple[Field, ...]:
    return (
        _power_field(),
        _number_field(spec_for("brightness"), 0xB0, 1, maximum=100),
        _enum_field(spec_for("light_mode"), 0xB6, LIGHT_MODES),
    )


def _water_heater() -> tuple[Field, ...]:
    return (
        _power_field(),
        _enum_field(spec_for("heater_mode"), 0xB0, HEATER_MODES),
        _enum_field(spec_for("hot_water_supply"), 0xC3, HOT_WATER),
        _number_field(spec_for("tank_litres"), 0xE1, 2, maximum=65533),
    )


NAMES: Mapping[int, str] = {
    AIRCON: "Air conditioner", METER: "Smart meter", SOLAR: "Solar power",
    BATTERY: "Storage battery", LIGHT: "Light", WATER_HEATER: "Water heater",
}

FIELDS: Mapping[int, tuple[Field, ...]] = {
    AIRCON: _aircon(), METER: _meter(), SOLAR: _solar(), BATTERY: _battery(),
    LIGHT: _light(), WATER_HEATER: _water_heater(),
}


@dataclass(frozen=True, slots=True)
class DeviceMapping:
    """The hub's view of one ECHONET object, given its property maps."""

    class_code: int
    get_map: frozenset[int]
    set_map: frozenset[int]
    fields: tuple[Field, ...] = field(default=())

    @classmethod
    def for_object(cls, class_code: int, get_map: frozenset[int],
                   set_map: frozenset[int]) -> DeviceMapping:
        """Mapped fields the object can actually answer, or raw fields for unmapped classes."""
        known = FIELDS.get(class_code)
        if known is None:
            fields = tuple(_raw_field(class_code, epc, epc in set_map)
                           for epc in sorted(get_map - set(MAP_EPCS)))
        else:
            fields = tuple(f for f in known if f.epc in get_map)
        return cls(class_code, get_map, set_map, fields)

    @property
    def model(self) -> str:
        """The class name from the MRA."""
        return class_name(self.class_code)

    @property
    def short_name(self) -> str:
        """A short default device name ('Air conditioner'), the MRA name otherwise."""
        return NAMES.get(self.class_code, self.model)

    @property
    def mapped(self) -> bool:
        """False for generic (raw) devices."""
        return self.class_code in FIELDS

    def properties(self) -> dict[str, PropertySpec]:
        """Property specs, writable only where the object's Set map allows it."""
        out: dict[str, PropertySpec] = {}
        for f in self.fields:
            writable = f.encode is not None and f.spec.writable and f.epc in self.set_map
            if f.spec.name.startswith("raw."):
                writable = f.epc in self.set_map
            out[f.name] = f.spec.narrowed(writable=writable, **self._mra_range(f))
        return out

    def _mra_range(self, f: Field) -> dict[str, float]:
        """The MRA's numeric range for the field, where it is narrower than the vocabulary's."""
        spec = class_spec(self.class_code)
        epc_spec = spec.epc(f.epc) if spec is not None and f.scale is not None else None
        number = epc_spec.number() if epc_spec is not None else None
        if number is None or f.scale is None:
            return {}
        out: dict[str, float] = {}
        if number.minimum is not None:
            low = round(number.minimum * f.scale, 6)
            if f.spec.minimum is None or low > f.spec.minimum:
                out["minimum"] = low
        if number.maximum is not None:
            high = round(number.maximum * f.scale, 6)
            if f.spec.maximum is None or high < f.spec.maximum:
                out["maximum"] = high
        return out

    def poll_epcs(self) -> list[int]:
        """Every EPC needed to compute the values (for one batched Get)."""
        epcs: list[int] = []
        for f in self.fields:
            for epc in f.epcs:
                if epc in self.get_map and epc not in epcs:
                    epcs.append(epc)
        return epcs

    def decode(self, values: Values) -> dict[str, Any]:
        """EPC data -> property values; properties whose EPCs are absent are left out."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.epc not in values:
                continue
            value = f.decode(values)
            if value is not None:
                out[f.name] = value
        return out

    def encode(self, name: str, value: Any) -> tuple[int, bytes]:
        """A desired value -> (EPC, EDT). Raises CommandFailed for what cannot be written."""
        for f in self.fields:
            if f.name != name:
                continue
            if f.encode is None or not self.properties()[name].writable:
                raise CommandFailed(f"{name} is read-only on this {self.model}")
            try:
                checked = f.spec.validate(value)
                return f.epc, f.encode(checked)
            except (PropertyValueError, KeyError, ValueError, OverflowError) as err:
                raise CommandFailed(f"cannot send {name}={value!r}: {err}") from err
        raise CommandFailed(f"{self.model} has no property {name}")

    def name_of(self, epc: int) -> str:
        """The property name carried by an EPC (for error messages)."""
        for f in self.fields:
            if f.epc == epc:
                return f.name
        spec = class_spec(self.class_code)
        epc_spec = spec.epc(epc) if spec is not None else None
        return f"EPC {epc:#04x}" + (f" ({epc_spec.name})" if epc_spec else "")


def _raw_field(class_code: int, epc: int, writable: bool) -> Field:
    spec = class_spec(class_code)
    epc_spec = spec.epc(epc) if spec is not None else None
    description = epc_spec.name if epc_spec is not None else ""
    prop = raw_property(f"{epc:02x}", writable=writable, description=description)

    def decode(values: Values) -> Any:
        edt = values.get(epc)
        return edt.hex() if edt is not None else None

    def encode(value: Any) -> bytes:
        return bytes.fromhex(str(value))

    return Field(prop, (epc,), decode, encode)
