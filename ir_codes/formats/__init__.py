"""Code formats: detect, read and write Pronto, Broadlink, Nature Remo, Flipper, LIRC and raw.

>>> from ir_codes.formats import convert
>>> convert("0000 006D 0002 0000 0156 00AB 0015 0BBA", to="nature")
'{"format": "us", "freq": 38, "data": [8993, 4497, 552, 78940]}'
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from ir_codes.errors import FormatError, IrCodesError
from ir_codes.formats import broadlink, esphome, flipper, lirc, nature, pronto
from ir_codes.model import IrCode, RawSignal
from ir_codes.registry import decode_any, encode

FORMATS = ("raw", "pronto", "broadlink", "broadlink-hex", "nature", "flipper", "lirc", "json")

__all__ = [
    "FORMATS",
    "NamedSignal",
    "broadlink",
    "convert",
    "detect_format",
    "esphome",
    "flipper",
    "lirc",
    "nature",
    "pronto",
    "read_signal",
    "read_signals",
    "render",
]

_RAW = re.compile(r"^[\s\[\]\(\),;+\-\d]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_B64 = re.compile(r"^[A-Za-z0-9+/=_\-]+$")


@dataclass(frozen=True, slots=True)
class NamedSignal:
    """A signal read from a file: its name, timings and decoded code if one is known."""

    name: str
    raw: RawSignal
    code: IrCode | None = None


def detect_format(data: str | bytes) -> str:
    """Name of the format `data` is in (one of FORMATS), or FormatError."""
    if isinstance(data, bytes | bytearray):
        if data[:1] == bytes([broadlink.IR_TYPE]):
            return "broadlink"
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as err:
            raise FormatError("binary input is not a Broadlink IR packet (type 0x26)") from err
    text = data.strip()
    if not text:
        raise FormatError("empty input: give timings, Pronto, Broadlink, Nature JSON or a file")
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise FormatError(f"input looks like JSON but does not parse: {err}") from err
        if isinstance(obj, dict) and "data" in obj:
            return "nature"
        return "json"
    if (
        "IR signals file" in text
        or "IR library file" in text
        or re.search(r"^type:\s*(parsed|raw)", text, re.M)
    ):
        return "flipper"
    if "begin remote" in text or re.search(r"^\s*(pulse|space)\s+\d+", text, re.MULTILINE):
        return "lirc"
    tokens = text.split()
    if tokens[0] == "0000" and all(len(t) == 4 and _HEX.match(t) for t in tokens):
        return "pronto"
    compact = "".join(tokens)
    if (
        _HEX.match(compact)
        and compact[:2] == "26"
        and len(compact) % 2 == 0
        and (len(tokens) == 1 or all(len(t) == 2 for t in tokens))
    ):
        return "broadlink-hex"
    if _RAW.match(text):
        return "raw"
    if _B64.match(compact):
        try:
            decoded = base64.b64decode(compact + "=" * (-len(compact) % 4), altchars=b"-_")
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded[:1] == bytes([broadlink.IR_TYPE]):
            return "broadlink"
    raise FormatError(
        "could not recognise the input format; expected raw timings, Pronto hex, Broadlink "
        "base64/hex, Nature Remo JSON, a Flipper .ir file or LIRC raw codes"
    )


def _parse_raw(text: str) -> RawSignal:
    numbers = [int(n) for n in re.findall(r"[+\-]?\d+", text)]
    if not numbers:
        raise FormatError("raw timings need at least one number of µs")
    try:
        return RawSignal.from_timings(numbers)
    except IrCodesError as err:
        raise FormatError(f"raw timings are invalid: {err}") from err


def _parse_json(text: str) -> NamedSignal:
    try:
        obj: Any = json.loads(text)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, or nesting too deep
        raise FormatError(f"not valid JSON: {str(err)[:200]}") from None
    if not isinstance(obj, dict):
        raise FormatError("JSON input must be an object")
    if "timings_us" in obj:
        try:
            raw = RawSignal.from_timings(obj["timings_us"], int(obj.get("carrier_hz", 38_000)))
        except (TypeError, ValueError) as err:
            raise FormatError(f"JSON timings_us must be a list of µs: {err}") from err
        return NamedSignal(str(obj.get("name", "signal")), raw)
    if "protocol" in obj:
        extras = dict(obj.get("extras") or {})
        if obj.get("bits"):
            extras["bits"] = obj["bits"]
        try:
            address, command = int(obj.get("address", 0)), int(obj.get("command", 0))
        except (TypeError, ValueError, OverflowError) as err:
            raise FormatError(f"JSON address and command must be integers: {err}") from None
        raw = encode(str(obj["protocol"]), address, command, **extras)
        return NamedSignal(str(obj.get("name", "signal")), raw, decode_or_none(raw))
    raise FormatError(
        "JSON input needs 'timings_us' (+ 'carrier_hz') or 'protocol'/'address'/'command'"
    )


def read_signals(data: str | bytes, fmt: str | None = None) -> list[NamedSignal]:
    """Every signal in the input (files may hold several; other formats hold one)."""
    fmt = fmt or detect_format(data)
    if isinstance(data, bytes | bytearray):
        if fmt == "broadlink":
            return [NamedSignal("signal", broadlink.from_packet(bytes(data)))]
        data = bytes(data).decode("utf-8", errors="replace")
    text = data.strip()
    if fmt == "raw":
        return [NamedSignal("signal", _parse_raw(text))]
    if fmt == "pronto":
        return [NamedSignal("signal", pronto.from_pronto(text))]
    if fmt == "broadlink":
        return [NamedSignal("signal", broadlink.from_base64(text))]
    if fmt == "broadlink-hex":
        return [NamedSignal("signal", broadlink.from_hex(text))]
    if fmt == "nature":
        return [NamedSignal("signal", nature.from_nature(text))]
    if fmt == "json":
        return [_parse_json(text)]
    if fmt == "flipper":
        return [NamedSignal(s.name, s.raw, s.code) for s in flipper.parse_flipper(text)]
    if fmt == "lirc":
        return [NamedSignal(name, raw) for name, raw in lirc.parse_lirc(text)]
    raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def read_signal(data: str | bytes, fmt: str | None = None) -> RawSignal:
    """The first signal in the input."""
    return read_signals(data, fmt)[0].raw


def decode_or_none(raw: RawSignal) -> IrCode | None:
    """The decoded code, or None if no protocol matches."""
    try:
        return decode_any(raw)
    except IrCodesError:
        return None


def render(
    raw: RawSignal,
    fmt: str,
    *,
    name: str = "signal",
    code: IrCode | None = None,
    repeat: int = 0,
) -> str:
    """The signal written in a format (Flipper uses a parsed entry when the code allows it)."""
    if fmt == "raw":
        return " ".join(str(t) for t in raw.timings_us)
    if fmt == "pronto":
        return pronto.to_pronto(raw)
    if fmt == "broadlink":
        return broadlink.to_base64(raw, repeat)
    if fmt == "broadlink-hex":
        return broadlink.to_hex(raw, repeat)
    if fmt == "nature":
        return nature.to_nature(raw)
    if fmt == "json":
        out: dict[str, Any] = {"name": name, **raw.to_dict()}
        code = code or decode_or_none(raw)
        if code is not None:
            out = {**code.to_dict(), **out}
        return json.dumps(out)
    if fmt == "flipper":
        code = code or decode_or_none(raw)
        return flipper.to_flipper([flipper.FlipperSignal(name, raw, code)])
    if fmt == "lirc":
        return lirc.to_lirc([(name, raw)])
    raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def convert(data: str | bytes, to: str, from_: str | None = None) -> str:
    """Convert the first signal of the input into another format."""
    if to not in FORMATS:
        raise FormatError(f"unknown target format {to!r}; choose one of {', '.join(FORMATS)}")
    first = read_signals(data, from_)[0]
    return render(first.raw, to, name=first.name, code=first.code)
