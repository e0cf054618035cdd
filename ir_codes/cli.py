"""`homehub ir ...`: encode, decode and convert IR codes, and build A/C frames, from the shell.

homehub ir encode NEC --address 0x04 --command 0x08 --format broadlink
homehub ir decode 'JgBYAAABJJQSEhI2...'       # or a file path, or stdin
homehub ir convert remote.ir --to pronto
homehub ir ac daikin --power on --mode cool --temp 26 --fan auto --format nature
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ir_codes.ac import FANS, MODES, AcState, decode_ac, encode_ac, known_brands
from ir_codes.errors import IrCodesError
from ir_codes.formats import FORMATS, NamedSignal, detect_format, read_signals, render
from ir_codes.formats.flipper import FlipperSignal, to_flipper
from ir_codes.formats.lirc import to_lirc
from ir_codes.model import IrCode, RawSignal
from ir_codes.registry import codec, decode_any, encode, protocol_names

EXIT_OK = 0
EXIT_ERROR = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `ir` command and its subcommands to a parent CLI."""
    ir = subparsers.add_parser(
        "ir",
        help="encode, decode and convert IR codes",
        description="IR codes from the command line: encode a protocol code, decode or convert "
        "a code in any supported format (Pronto, Broadlink, Nature Remo, Flipper, LIRC), or "
        "build a whole-state air-conditioner frame.",
        epilog="example:\n  homehub ir encode NEC --address 0x04 --command 0x08 --format pronto",
    )
    sub = ir.add_subparsers(dest="ir_command", metavar="{encode,decode,convert,ac}")
    sub.required = True

    enc = sub.add_parser(
        "encode",
        help="timings for a protocol code",
        description="Encode one code of a protocol as timings, in any output format. "
        "--command is required (and --address where the protocol has one), unless --extra "
        "state=<hex> gives a whole state.",
        epilog="examples:\n  homehub ir encode NEC --address 0x04 --command 0x08 --format broadlink"
        "\n  homehub ir encode SONY --address 0x01 --command 0x15 --bits 12",
    )
    enc.add_argument("protocol", help=f"one of {', '.join(protocol_names())} (or an alias)")
    enc.add_argument("--address", type=_int, help="address (decimal or 0x hex)")
    enc.add_argument("--command", type=_int, help="command (decimal or 0x hex)")
    enc.add_argument("--bits", type=int, help="frame length where a protocol has several")
    enc.add_argument("--toggle", type=int, help="RC5/RC6 toggle bit")
    enc.add_argument(
        "--repeats",
        type=int,
        help="extra frames after the first: NEC repeat codes, JVC header-less repeats, Sony copies "
        "(Sony default 2: a press is three frames)",
    )
    enc.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE",
                     help="other protocol extras, e.g. t_us=432 or state=<hex>")  # fmt: skip
    _output_options(enc)
    enc.set_defaults(func=_guarded(_cmd_encode))

    dec = sub.add_parser(
        "decode",
        help="identify and decode a code in any supported format",
        description="Detect the format of a code (text, a file, or stdin), then name its "
        "protocol, address and command (and an air conditioner's settings).",
        epilog="examples:\n  homehub ir decode remote.ir\n"
        "  homehub ir decode '0000 006D 0000 0022 0158 00AC 0016 0016 0016 0041'",
    )
    dec.add_argument("input", nargs="?", help="code text or a file path (default: stdin)")
    dec.add_argument("--from", dest="source", choices=FORMATS, help="skip format detection")
    dec.add_argument("--json", action="store_true", help="machine-readable output")
    dec.set_defaults(func=_guarded(_cmd_decode))

    conv = sub.add_parser(
        "convert",
        help="rewrite a code in another format",
        description="Rewrite a code, or every code of a file, in another format.",
        epilog="example:\n  homehub ir convert remote.ir --to pronto",
    )
    conv.add_argument("input", nargs="?", help="code text or a file path (default: stdin)")
    conv.add_argument("--to", required=True, choices=FORMATS, help="target format")
    conv.add_argument("--from", dest="source", choices=FORMATS, help="skip format detection")
    conv.set_defaults(func=_guarded(_cmd_convert))

    ac = sub.add_parser(
        "ac",
        help="whole-state air-conditioner frame",
        description="Build the frame an air conditioner's remote sends for a whole state "
        "(power, mode, temperature, fan, swing).",
        epilog="example:\n  homehub ir ac daikin --power on --mode cool --temp 26 --fan auto",
    )
    ac.add_argument("brand", help=f"one of {', '.join(known_brands())}")
    ac.add_argument("--power", choices=("on", "off"), default="on")
    ac.add_argument("--mode", choices=MODES, default="cool")
    ac.add_argument("--temp", type=float, default=26, help="target temperature in °C")
    ac.add_argument("--fan", choices=FANS, default="auto")
    ac.add_argument("--swing", choices=("on", "off"), help="vane swing (default: brand default)")
    _output_options(ac)
    ac.set_defaults(func=_guarded(_cmd_ac))


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="raw", help="output format")
    parser.add_argument("--json", action="store_true", help="protocol, values and timings as JSON")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (use 10 or 0x0a)") from err


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a subcommand; library and input errors become one stderr line and exit code 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: not an error; keep Python quiet at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except (IrCodesError, OSError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_ERROR

    return run


def _read_input(value: str | None) -> str | bytes:
    if value is None or value == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(value).expanduser()
        try:
            is_file = len(value) < 4096 and path.is_file()
        except OSError:
            is_file = False
        if not is_file:
            if _looks_like_a_path(value):
                raise ValueError(f"{value}: no such file")
            return value
        data = path.read_bytes()
    if not data.strip():
        raise ValueError("no input: pass a code, a file path, or pipe it on stdin")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


#: File names that are not a code: codes are Pronto words, base64, JSON or multi-line files.
_FILE_SUFFIXES = (".ir", ".json", ".txt", ".conf", ".lircd", ".csv", ".pronto", ".yaml")


def _looks_like_a_path(value: str) -> bool:
    if any(c.isspace() for c in value) or value.startswith("{"):
        return False
    return value.startswith(("/", "./", "../", "~")) or value.lower().endswith(_FILE_SUFFIXES)


def _describe(code: IrCode) -> str:
    text = f"{code.protocol} address=0x{code.address:X} command=0x{code.command:X} bits={code.bits}"
    extras = {k: v for k, v in code.extras.items() if k != "state"}
    if "state" in code.extras:
        text += f" state={code.extras['state']}"
        with contextlib.suppress(IrCodesError):  # a valid frame with settings we cannot name
            _, settings, _ = decode_ac(code)
            text += " (" + ", ".join(f"{k}={v}" for k, v in settings.to_dict().items()) + ")"
    if extras:
        text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
    return text


def _code_json(code: IrCode | None, raw: RawSignal, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(more)
    if code is not None:
        out.update(code.to_dict())
        if "state" in code.extras:
            with contextlib.suppress(IrCodesError):
                out["ac"] = decode_ac(code)[1].to_dict()
    out.update(raw.to_dict())
    return out


def _emit(raw: RawSignal, code: IrCode | None, args: argparse.Namespace) -> int:
    if args.json:
        formatted = render(raw, args.format, code=code) if args.format != "raw" else None
        extra = {"format": args.format, "formatted": formatted} if formatted else {}
        print(json.dumps(_code_json(code, raw, **extra)))
    else:
        print(render(raw, args.format, code=code).rstrip("\n"))
    return EXIT_OK


def _cmd_encode(args: argparse.Namespace) -> int:
    extras: dict[str, Any] = {}
    for item in args.extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--extra {item!r} must look like KEY=VALUE")
        extras[key.strip()] = value.strip() if key.strip() == "state" else _int(value.strip())
    for key in ("bits", "toggle", "repeats"):
        if getattr(args, key) is not None:
            extras[key] = getattr(args, key)
    missing = [f"--{k}" for k in ("address", "command") if getattr(args, k) is None]
    if missing and not (codec(args.protocol).stateful or "state" in extras):
        raise ValueError(
            f"{args.protocol} needs {' and '.join(missing)} (decimal or 0x hex), e.g. "
            "--address 0x04 --command 0x08; a remote's code list or `homehub ir decode` of a "
            "capture gives them"
        )
    raw = encode(args.protocol, args.address or 0, args.command or 0, **extras)
    return _emit(raw, decode_any(raw), args)


def _decode_signal(signal: NamedSignal) -> IrCode:
    return signal.code if signal.code is not None else decode_any(signal.raw)


def _cmd_decode(args: argparse.Namespace) -> int:
    data = _read_input(args.input)
    fmt = args.source or detect_format(data)
    signals = read_signals(data, fmt)
    if len(signals) == 1:
        code = _decode_signal(signals[0])
        if args.json:
            print(json.dumps(_code_json(code, signals[0].raw, format=fmt)))
        else:
            print(_describe(code))
        return EXIT_OK
    rows: list[dict[str, Any]] = []
    for s in signals:
        found: IrCode | None
        try:
            found = _decode_signal(s)
        except IrCodesError:
            found = None
        if args.json:
            rows.append(_code_json(found, s.raw, name=s.name))
        elif found is None:
            print(f"{s.name}: no protocol matched ({len(s.raw.timings_us)} durations, kept raw)")
        else:
            print(f"{s.name}: {_describe(found)}")
    if args.json:
        print(json.dumps(rows))
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    signals = read_signals(_read_input(args.input), args.source)
    if args.to == "flipper" and len(signals) > 1:
        entries = [FlipperSignal(s.name, s.raw, s.code) for s in signals]
        print(to_flipper(entries).rstrip("\n"))
        return EXIT_OK
    if args.to == "lirc" and len(signals) > 1:
        print(to_lirc([(s.name, s.raw) for s in signals]).rstrip("\n"))
        return EXIT_OK
    first = signals[0]
    print(render(first.raw, args.to, name=first.name, code=first.code).rstrip("\n"))
    return EXIT_OK


def _cmd_ac(args: argparse.Namespace) -> int:
    state = AcState(args.power == "on", args.mode, args.temp, args.fan, args.swing)
    raw = encode_ac(args.brand, state)
    return _emit(raw, decode_any(raw), args)
