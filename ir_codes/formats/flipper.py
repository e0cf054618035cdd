"""Flipper Zero `.ir` files: parsed entries (protocol/address/command) and raw entries.

Parsed entries map onto our protocols: NEC/NECext -> NEC, Samsung32, RC5/RC5X, RC6,
SIRC/SIRC15/SIRC20 -> SONY 12/15/20, Kaseikyo. Address and command are 4 little-endian bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ir_codes.errors import FormatError, IrCodesError
from ir_codes.model import IrCode, RawSignal
from ir_codes.registry import encode_code

HEADER = "Filetype: IR signals file\nVersion: 1\n"
DEFAULT_DUTY = 0.33


@dataclass(frozen=True, slots=True)
class FlipperSignal:
    """One named button: its decoded code when parsed (or decodable) and its timings."""

    name: str
    raw: RawSignal
    code: IrCode | None = None


def _le4(value: int) -> str:
    return " ".join(f"{b:02X}" for b in value.to_bytes(4, "little"))


def _parse_le(text: str, field: str, name: str) -> int:
    try:
        data = bytes.fromhex(text)
    except ValueError as err:
        raise FormatError(
            f"Flipper signal {name!r}: {field} must be hex bytes like '07 00 00 00'"
        ) from err
    return int.from_bytes(data, "little")


def code_from_flipper(protocol: str, address: int, command: int) -> IrCode:
    """Our IrCode for a Flipper parsed entry."""
    p = protocol.strip()
    if p == "NEC":
        return IrCode("NEC", address & 0xFF, command & 0xFF, 32)
    if p == "NECext":
        addr, cmd = address & 0xFFFF, command & 0xFFFF
        extras: dict[str, bool] = {}
        if addr >> 8 == (addr & 0xFF) ^ 0xFF:
            addr &= 0xFF
        elif addr <= 0xFF:
            extras["extended"] = True
        if cmd >> 8 == (cmd & 0xFF) ^ 0xFF:
            cmd &= 0xFF
        elif cmd <= 0xFF:
            extras["extended_command"] = True
        return IrCode("NEC", addr, cmd, 32, extras)
    if p == "Samsung32":
        return IrCode("SAMSUNG32", address & 0xFF, command & 0xFF, 32)
    if p in ("RC5", "RC5X"):
        return IrCode("RC5", address & 0x1F, command & 0x7F, 12)
    if p == "RC6":
        return IrCode("RC6", address & 0xFF, command & 0xFF, 20)
    sirc = {"SIRC": (12, 0x1F), "SIRC15": (15, 0xFF), "SIRC20": (20, 0x1FFF)}
    if p in sirc:
        bits, mask = sirc[p]
        return IrCode("SONY", address & mask, command & 0x7F, bits)
    if p == "Kaseikyo":
        return IrCode("KASEIKYO", address & 0x3FFFFFF, command & 0x3FF, 48)
    raise FormatError(
        f"Flipper protocol {protocol!r} is not supported here; "
        "re-save the button as a raw signal on the Flipper"
    )


def code_to_flipper(code: IrCode) -> tuple[str, int, int] | None:
    """(Flipper protocol, address, command) for a code, or None if Flipper has no parsed form."""
    p, a, c, x = code.protocol, code.address, code.command, code.extras
    if p == "NEC":
        wide_a = a > 0xFF or bool(x.get("extended"))
        wide_c = c > 0xFF or bool(x.get("extended_command"))
        if not wide_a and not wide_c:
            return "NEC", a, c
        a16 = a if wide_a else a | (a ^ 0xFF) << 8
        c16 = c if wide_c else c | (c ^ 0xFF) << 8
        return "NECext", a16, c16
    if p == "SAMSUNG32":
        return "Samsung32", a, c
    if p == "RC5":
        return ("RC5X" if c > 0x3F else "RC5"), a, c
    if p == "RC6":
        return "RC6", a, c
    if p == "SONY":
        return {12: "SIRC", 15: "SIRC15", 20: "SIRC20"}[code.bits], a, c
    if p == "KASEIKYO" and "vendor_parity" not in x:
        return "Kaseikyo", a, c
    return None


def parse_flipper(text: str) -> list[FlipperSignal]:
    """All signals of a Flipper .ir file."""
    if "IR signals file" not in text and "IR library file" not in text and "name:" not in text:
        raise FormatError("not a Flipper .ir file: no 'Filetype: IR signals file' and no entries")
    entries: list[dict[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "name":
            entries.append({"name": value})
        elif entries:
            entries[-1][key] = value
    if not entries:
        raise FormatError("Flipper .ir file has no signals (no 'name:' entries)")
    return [_signal(e) for e in entries]


def _signal(entry: dict[str, str]) -> FlipperSignal:
    name = entry["name"]
    kind = entry.get("type")
    if kind == "parsed":
        for field in ("protocol", "address", "command"):
            if field not in entry:
                raise FormatError(f"Flipper signal {name!r} (parsed) has no {field!r} line")
        code = code_from_flipper(
            entry["protocol"],
            _parse_le(entry["address"], "address", name),
            _parse_le(entry["command"], "command", name),
        )
        try:
            return FlipperSignal(name, encode_code(code), code)
        except IrCodesError as err:
            raise FormatError(f"Flipper signal {name!r}: {err}") from err
    if kind == "raw":
        if "data" not in entry:
            raise FormatError(f"Flipper signal {name!r} (raw) has no 'data' line")
        try:
            freq = int(float(entry.get("frequency", "38000")))
            timings = [int(tok) for tok in entry["data"].split()]
            duty = float(entry.get("duty_cycle", DEFAULT_DUTY))
            raw = RawSignal.from_timings(timings, freq, round(duty * 100))
        except (ValueError, IrCodesError) as err:
            raise FormatError(f"Flipper signal {name!r} has invalid raw data: {err}") from err
        return FlipperSignal(name, raw)
    raise FormatError(f"Flipper signal {name!r} has type {kind!r}; expected 'parsed' or 'raw'")


def to_flipper(signals: Iterable[FlipperSignal]) -> str:
    """A Flipper .ir file; codes Flipper can parse are written as parsed entries."""
    blocks = [HEADER.rstrip("\n")]
    for s in signals:
        parsed = code_to_flipper(s.code) if s.code is not None else None
        lines = ["# ", f"name: {s.name}"]
        if parsed is not None:
            proto, address, command = parsed
            lines += ["type: parsed", f"protocol: {proto}"]
            lines += [f"address: {_le4(address)}", f"command: {_le4(command)}"]
        else:
            duty = (s.raw.duty_percent or round(DEFAULT_DUTY * 100)) / 100
            lines += ["type: raw", f"frequency: {s.raw.carrier_hz}", f"duty_cycle: {duty:.6f}"]
            lines.append("data: " + " ".join(str(t) for t in s.raw.timings_us))
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"
