"""IR device profiles: which named commands a device has, as Broadlink code packets (the one
code form every blaster kind accepts: ESPHome blasters turn them into timings).

A profile is a code set name (`ir_codes.codesets.load_profile`: packaged profiles such as
``samsung_tv`` or ``daikin_ac``, or YAML/JSON files in the configured user directories) or an
inline mapping in the same file form:

    {"kind": "tv",
     "commands": {"power": {"protocol": "nec", "address": 4, "command": 8},
                  "volume_up": "JgBGAJKV...",            # Broadlink base64 or hex, as learned
                  "mute": {"broadlink": "2600...0d05"},
                  "input": {"pronto": "0000 006D ..."}},       # any form ir_codes reads
     "power": {"toggle": "power"}}                      # or {"on": "power_on", "off": "power_off"}

    {"kind": "ac", "brand": "daikin", "modes": ["cool", "heat", "dry", "fan", "auto"],
     "min_temperature": 18, "max_temperature": 30}

Codes are resolved to bytes when the profile loads, so a bad code fails at startup with its name.
Broadlink packets are kept byte for byte (a learned code is replayed exactly as it was heard);
every other form goes through ir_codes (code set parsing, protocol encoders, Broadlink format).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integrations.errors import CommandFailed, IntegrationError
from integrations.ir_devices import codes as pk


class ProfileError(IntegrationError):
    """A profile (or one of its codes) cannot be used; the message names the part to fix."""


AC_MODES = ("auto", "cool", "heat", "dry", "fan")
AC_FAN_SPEEDS = ("auto", "1", "2", "3", "4", "5")
AC_SWINGS = ("off", "vertical")


@dataclass(frozen=True, slots=True)
class AcSpec:
    """How an air conditioner's whole-state frames are made."""

    brand: str
    modes: tuple[str, ...] = AC_MODES
    min_temperature: float = 16.0
    max_temperature: float = 30.0
    fan_speeds: tuple[str, ...] = AC_FAN_SPEEDS
    swings: tuple[str, ...] = AC_SWINGS
    defaults: Mapping[str, Any] = field(default_factory=dict)  # state assumed before any send


@dataclass(frozen=True, slots=True)
class IrProfile:
    """A resolved profile: named codes, how power maps onto them, and the AC encoder if any."""

    name: str
    kind: str
    commands: Mapping[str, bytes] = field(default_factory=dict)
    power_on: str | None = None
    power_off: str | None = None
    power_toggle: str | None = None
    ac: AcSpec | None = None

    @property
    def has_power(self) -> bool:
        """True when `power` can be driven (discrete codes, a toggle, or the AC encoder)."""
        return self.ac is not None or bool(self.power_toggle) or bool(
            self.power_on and self.power_off
        )

    def with_command(self, name: str, code: bytes) -> IrProfile:
        """A copy with one more (or a replaced) named code."""
        commands = dict(self.commands)
        commands[name] = code
        return IrProfile(
            self.name, self.kind, commands, self.power_on, self.power_off, self.power_toggle,
            self.ac,
        )


def parse_code_text(text: str) -> bytes:
    """A Broadlink code packet from hex or base64 text."""
    cleaned = "".join(text.split())
    try:
        code = bytes.fromhex(cleaned)
    except ValueError:
        try:
            code = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ProfileError(
                "a code must be Broadlink hex or base64 (as learned or exported from Home "
                "Assistant)"
            ) from err
    try:
        return pk.trim_code(code)
    except pk.PacketError as err:
        raise ProfileError(f"not a Broadlink code packet: {err.reason}") from err


def _via_ir_codes(spec: Any, where: str) -> bytes:
    from ir_codes import IrCode, IrCodesError, encode_code
    from ir_codes.codesets import parse_code
    from ir_codes.formats import broadlink as bl_format

    try:
        code = parse_code(spec, where)
        raw = encode_code(code) if isinstance(code, IrCode) else code
        return bl_format.to_packet(raw)
    except IrCodesError as err:  # ir_codes' messages name the field and what it accepts
        raise ProfileError(str(err)) from err


def resolve_code(spec: Any, where: str = "code") -> bytes:
    """A command's code as a Broadlink packet: Broadlink text kept exactly, else via ir_codes."""
    if isinstance(spec, bytes | bytearray):
        try:
            return pk.trim_code(bytes(spec))
        except pk.PacketError as err:
            raise ProfileError(f"{where}: not a Broadlink code packet: {err.reason}") from err
    if isinstance(spec, str):
        try:
            return parse_code_text(spec)
        except ProfileError as as_broadlink:
            try:
                return _via_ir_codes(spec, where)  # Pronto, Nature Remo JSON, raw timings ...
            except ProfileError as err:
                raise ProfileError(f"{err} (as a Broadlink packet: {as_broadlink})") from err
    if isinstance(spec, Mapping):
        if "broadlink" in spec:
            return parse_code_text(str(spec["broadlink"]))
        return _via_ir_codes(spec, where)
    raise ProfileError(
        f"{where}: cannot read {spec!r}: give Broadlink hex/base64 text or "
        '{"protocol": "NEC", "address": 4, "command": 8}'
    )


def _ac_spec(data: Mapping[str, Any]) -> AcSpec:
    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(v) for v in data.get(key, default))

    brand = str(data["brand"]).lower()
    from ir_codes import UnknownBrand
    from ir_codes.ac import brand as ac_brand

    try:
        low, high = ac_brand(brand).temp_range
    except UnknownBrand as err:  # the message lists the known brands
        raise ProfileError(str(err)) from err
    return AcSpec(
        brand=brand,
        modes=strings("modes", AC_MODES),
        min_temperature=float(data.get("min_temperature", low)),
        max_temperature=float(data.get("max_temperature", high)),
        fan_speeds=strings("fan_speeds", AC_FAN_SPEEDS),
        swings=strings("swings", AC_SWINGS),
        defaults=_hub_vocabulary(data.get("defaults", {})),
    )


def _hub_vocabulary(defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Code set defaults may use ir_codes' words (fan "low", swing "on"): use the hub's."""
    out = dict(defaults)
    if "fan_speed" in out:
        out["fan_speed"] = _IR_TO_FAN.get(str(out["fan_speed"]), str(out["fan_speed"]))
    if out.get("swing") == "on":
        out["swing"] = "vertical"
    return out


def parse_profile(data: Mapping[str, Any], name: str = "inline") -> IrProfile:
    """An inline profile mapping, resolved."""
    commands: dict[str, bytes] = {}
    for cmd, spec in dict(data.get("commands", {})).items():
        try:
            commands[str(cmd)] = resolve_code(spec, f"commands.{cmd}")
        except (ProfileError, pk.PacketError, ValueError, KeyError) as err:
            raise ProfileError(f"profile {name}: command {cmd!r}: {err}") from err
    power = data.get("power", {})
    if isinstance(power, str):
        power = {"toggle": power}
    on, off, toggle = power.get("on"), power.get("off"), power.get("toggle")
    if not power:
        # conventional names make power work without an explicit mapping
        on = "power_on" if "power_on" in commands else None
        off = "power_off" if "power_off" in commands else None
        toggle = "power" if "power" in commands and not (on and off) else None
    for ref in (on, off, toggle):
        if ref is not None and ref not in commands:
            raise ProfileError(f"profile {name}: power refers to unknown command {ref!r}")
    kind = str(data.get("kind", "ac" if "brand" in data else "generic"))
    ac = _ac_spec(data) if "brand" in data else None
    return IrProfile(name, kind, commands, on, off, toggle, ac)


def load_profile(
    spec: str | Mapping[str, Any], user_dirs: Sequence[str | Path] = ()
) -> IrProfile:
    """A profile by code set name (user directories first, then packaged) or inline mapping."""
    if isinstance(spec, Mapping):
        return parse_profile(spec, str(spec.get("name", "inline")))
    from ir_codes import IrCodesError
    from ir_codes.codesets import load_profile as load_code_set

    try:
        loaded = load_code_set(spec, user_dirs)
    except IrCodesError as err:  # the message lists the known profile names
        raise ProfileError(str(err)) from err
    return parse_profile(loaded.to_dict(), spec)


# The hub's fan_speed levels and swing choices onto ir_codes' A/C vocabulary.
_FAN_TO_IR = {"auto": "auto", "1": "min", "2": "low", "3": "medium", "4": "high", "5": "max"}
_SWING_TO_IR = {"off": "off", "vertical": "on", "horizontal": "on", "both": "on"}
_IR_TO_FAN = {ir: hub for hub, ir in _FAN_TO_IR.items()}


def encode_ac(ac: AcSpec, state: Mapping[str, Any]) -> bytes:
    """The whole-state AC frame for hub-style `state` as a Broadlink packet (via ir_codes.ac)."""
    from ir_codes import AcState, IrCodesError
    from ir_codes import encode_ac as ir_encode_ac
    from ir_codes.formats import broadlink as bl_format

    fan = str(state.get("fan_speed", "auto"))
    if fan not in _FAN_TO_IR:
        raise CommandFailed(f"{ac.brand} remotes have fan speeds auto and 1..5, not {fan!r}")
    swing = state.get("swing")
    try:
        ir_state = AcState(
            power=bool(state.get("power", True)),
            mode=str(state.get("mode", "cool")),
            target_temperature=float(state.get("target_temperature", 26)),
            fan=_FAN_TO_IR[fan],
            swing=_SWING_TO_IR.get(str(swing)) if swing is not None else None,
        )
        return bl_format.to_packet(ir_encode_ac(ac.brand, ir_state))
    except IrCodesError as err:  # ir_codes' messages name the bad field and its allowed values
        raise CommandFailed(f"cannot make a {ac.brand} AC frame: {err}") from err
