"""The settings an air-conditioner remote sends, and the brand record that encodes them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ir_codes.ac._frames import AcLayout
from ir_codes.errors import DecodeError, EncodeError
from ir_codes.model import RawSignal

MODES = ("auto", "cool", "heat", "dry", "fan")
FANS = ("auto", "min", "low", "medium", "high", "max")
SWINGS = ("on", "off")
# The hub vocabulary's fan_speed levels and swing choices onto these names.
HUB_FAN_LEVELS = {"1": "min", "2": "low", "3": "medium", "4": "high", "5": "max"}
HUB_SWINGS = {"off": "off", "vertical": "on", "horizontal": "on", "both": "on", "on": "on"}


@dataclass(frozen=True, slots=True)
class AcState:
    """Whole-state A/C settings: every IR frame carries all of them at once."""

    power: bool = True
    mode: str = "cool"
    target_temperature: float = 26
    fan: str = "auto"
    swing: str | None = None  # None keeps the brand's default vane setting

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise EncodeError(f"A/C mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.fan not in FANS:
            raise EncodeError(f"A/C fan {self.fan!r} is not one of {', '.join(FANS)}")
        if self.swing is not None and self.swing not in SWINGS:
            raise EncodeError(f"A/C swing {self.swing!r} must be 'on' or 'off'")

    def to_dict(self) -> dict[str, Any]:
        """The hub's property values (power bool, fan_speed "auto" or "1".."5", swing)."""
        levels = {name: level for level, name in HUB_FAN_LEVELS.items()}
        out: dict[str, Any] = {
            "power": self.power,
            "mode": self.mode,
            "target_temperature": self.target_temperature,
            "fan_speed": levels.get(self.fan, "auto"),
        }
        if self.swing is not None:
            out["swing"] = "vertical" if self.swing == "on" else "off"
        return out

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AcState:
        """Build from hub properties (power, mode, target_temperature, fan_speed, swing)."""
        power = values.get("power", True)
        if isinstance(power, str):
            power = power.lower() in ("on", "true", "1", "yes")
        fan = str(values.get("fan_speed", values.get("fan", "auto")))
        fan = HUB_FAN_LEVELS.get(fan, fan)
        swing = values.get("swing")
        if swing is not None:
            swing = HUB_SWINGS.get(str(swing), str(swing))
        try:
            temp = float(values.get("target_temperature", values.get("temp", 26)))
        except (TypeError, ValueError) as err:
            raise EncodeError("target_temperature must be a number of °C") from err
        mode = str(values.get("mode", "cool"))
        return cls(bool(power), mode, temp, fan, swing)


@dataclass(frozen=True, slots=True)
class AcBrand:
    """One brand's A/C protocol: layout on the air, state builder, parser and checksum test."""

    name: str
    layout: AcLayout
    build: Callable[[AcState], bytes]
    parse: Callable[[bytes], AcState]
    valid: Callable[[bytes], bool]
    temp_range: tuple[float, float]
    # Messages the remote sends after the state for some settings (Toshiba's swing command),
    # and how a whole captured press (state + those messages) reads back into settings.
    follow_ups: Callable[[AcState], list[bytes]] | None = None
    read_follow_ups: Callable[[AcState, RawSignal], AcState] | None = None

    def messages(self, state: AcState) -> list[bytes]:
        """Every message one button press sends for the settings, in order."""
        return [self.build(state), *(self.follow_ups(state) if self.follow_ups else [])]


def whole_degrees(brand: str, state: AcState, low: float, high: float, step: float = 1) -> float:
    """The target temperature checked against the brand's range and rounded to its step."""
    temp = round(state.target_temperature / step) * step
    if not low <= temp <= high:
        raise EncodeError(
            f"{brand} accepts target temperatures {low:g}..{high:g} °C, "
            f"got {state.target_temperature:g}"
        )
    return temp


def lookup(table: Mapping[str, int], value: int, what: str, brand: str) -> str:
    """Reverse lookup in a name -> code table (DecodeError for a code we do not know)."""
    for name, code in table.items():
        if code == value:
            return name
    raise DecodeError(f"{brand} state has a {what} code 0x{value:x} this library does not know")
