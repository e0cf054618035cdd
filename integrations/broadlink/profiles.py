"""IR device profiles: which named commands a device has, as Broadlink code packets.

A profile is a code set name (resolved through `ir_codes.codesets`) or an inline mapping:

    {"kind": "tv",
     "commands": {"power": {"protocol": "nec", "address": 4, "command": 8},
                  "volume_up": "JgBGAJKV...",            # Broadlink base64 or hex, as learned
                  "mute": {"broadlink": "2600...0d05"}},
     "power": {"toggle": "power"}}                      # or {"on": "power_on", "off": "power_off"}

    {"kind": "ac", "brand": "daikin", "modes": ["cool", "heat", "dry", "fan", "auto"],
     "min_temperature": 18, "max_temperature": 30}

Codes are resolved to bytes when the profile loads, so a bad code fails at startup with its name.
"""

from __future__ import annotations

import base64
import binascii
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.broadlink import captures
from integrations.broadlink import packet as pk
from integrations.errors import CommandFailed, IntegrationError


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


def _encode_protocol(spec: Mapping[str, Any]) -> bytes:
    extras = {k: v for k, v in spec.items() if k not in ("protocol", "address", "command")}
    protocol = str(spec["protocol"])
    address, command = int(spec["address"]), int(spec["command"])
    try:
        import ir_codes
        from ir_codes.formats import broadlink as bl_format
    except ImportError:  # pragma: no cover - ir_codes ships with homehub
        if protocol.lower() == "nec" and not extras:
            return captures.nec_packet(address, command)
        raise ProfileError(f"protocol {protocol!r} needs the ir_codes package") from None
    try:
        return bl_format.to_packet(ir_codes.encode(protocol, address, command, **extras))
    except ir_codes.IrCodesError as err:
        raise ProfileError(f"cannot encode {dict(spec)}: {err}") from err


def resolve_code(spec: Any) -> bytes:
    """A code spec (hex/base64 text, {"broadlink": ...} or {"protocol", ...}) as a packet."""
    if isinstance(spec, bytes | bytearray):
        return pk.trim_code(bytes(spec))
    if isinstance(spec, str):
        return parse_code_text(spec)
    if isinstance(spec, Mapping):
        if "broadlink" in spec:
            return parse_code_text(str(spec["broadlink"]))
        if {"protocol", "address", "command"} <= spec.keys():
            return _encode_protocol(spec)
    raise ProfileError(
        f"cannot read code {spec!r}: give Broadlink hex/base64 text or "
        '{"protocol": "nec", "address": 4, "command": 8}'
    )


def _ac_spec(data: Mapping[str, Any]) -> AcSpec:
    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(v) for v in data.get(key, default))

    brand = str(data["brand"]).lower()
    try:
        from ir_codes import UnknownBrand
        from ir_codes.ac import brand as ac_brand

        low, high = ac_brand(brand).temp_range
    except ImportError:  # pragma: no cover - ir_codes ships with homehub
        low, high = 16.0, 30.0
    except UnknownBrand as err:
        raise ProfileError(str(err)) from err
    return AcSpec(
        brand=brand,
        modes=strings("modes", AC_MODES),
        min_temperature=float(data.get("min_temperature", low)),
        max_temperature=float(data.get("max_temperature", high)),
        fan_speeds=strings("fan_speeds", AC_FAN_SPEEDS),
        swings=strings("swings", AC_SWINGS),
    )


def parse_profile(data: Mapping[str, Any], name: str = "inline") -> IrProfile:
    """An inline profile mapping, resolved."""
    commands: dict[str, bytes] = {}
    for cmd, spec in dict(data.get("commands", {})).items():
        try:
            commands[str(cmd)] = resolve_code(spec)
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


def load_profile(spec: str | Mapping[str, Any]) -> IrProfile:
    """A profile by code set name (via ir_codes.codesets) or an inline mapping."""
    if isinstance(spec, Mapping):
        return parse_profile(spec, str(spec.get("name", "inline")))
    try:
        # imported by name: the code set module is optional and its types are not ours
        codesets: Any = importlib.import_module("ir_codes.codesets")
        loaded = codesets.load_profile(spec)
    except (ImportError, AttributeError):
        raise ProfileError(
            f"profile {spec!r} is a code set name, but this install has no ir_codes code sets; "
            "give the profile inline instead"
        ) from None
    except Exception as err:  # ir_codes' own errors carry the list of known names
        raise ProfileError(f"cannot load IR profile {spec!r}: {err}") from err
    data = loaded.to_dict() if hasattr(loaded, "to_dict") else loaded
    if not isinstance(data, Mapping):
        raise ProfileError(f"code set {spec!r} has a shape this integration does not read")
    return parse_profile(data, spec)


# The hub's fan_speed levels and swing choices onto ir_codes' A/C vocabulary.
_FAN_TO_IR = {"auto": "auto", "1": "min", "2": "low", "3": "medium", "4": "high", "5": "max"}
_SWING_TO_IR = {"off": "off", "vertical": "on", "horizontal": "on", "both": "on"}


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
