"""The `ir` CLI: parsers built with register(), run in-process and as a subprocess."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ir_codes
from ir_codes.cli import register
from ir_codes.formats import broadlink, read_signal

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="homehub")
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_encode_json_has_protocol_values_and_timings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["ir", "encode", "NEC", "--address", "0x04", "--command", "8", "--json"], capsys
    )
    assert code == 0
    doc = json.loads(out)
    assert (doc["protocol"], doc["address"], doc["command"], doc["bits"]) == ("NEC", 4, 8, 32)
    assert doc["timings_us"] == list(ir_codes.encode("NEC", 4, 8).timings_us)
    assert doc["carrier_hz"] == 38_000


@pytest.mark.parametrize(
    "fmt", ["raw", "pronto", "broadlink", "broadlink-hex", "nature", "flipper", "lirc"]
)
def test_encode_then_decode_in_every_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["ir", "encode", "RC6", "--address", "49", "--command", "196", "--format", fmt], capsys
    )
    assert code == 0
    code, out, _ = run(
        ["ir", "decode", out.strip() if fmt not in ("flipper", "lirc") else out], capsys
    )
    assert code == 0
    assert out.strip() == "RC6 address=0x31 command=0xC4 bits=20"


def test_decode_reads_stdin_and_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    packet = broadlink.to_base64(ir_codes.encode("SAMSUNG32", 7, 2))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(packet.encode())))
    code, out, _ = run(["ir", "decode", "--json"], capsys)
    doc = json.loads(out)
    assert code == 0 and (doc["protocol"], doc["format"]) == ("SAMSUNG32", "broadlink")
    path = tmp_path / "tv.ir"
    path.write_text(
        "Filetype: IR signals file\nVersion: 1\n#\nname: Power\ntype: parsed\n"
        "protocol: NEC\naddress: 04 00 00 00\ncommand: 08 00 00 00\n#\nname: Odd\ntype: raw\n"
        "frequency: 38000\nduty_cycle: 0.33\ndata: 100 200 300 400\n"
    )
    code, out, _ = run(["ir", "decode", str(path)], capsys)
    assert code == 0
    assert out.splitlines() == [
        "Power: NEC address=0x4 command=0x8 bits=32",
        "Odd: no protocol matched (4 durations, kept raw)",
    ]


def test_convert_keeps_every_signal_of_a_file_for_file_formats(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "remote.ir"
    path.write_text(
        "Filetype: IR signals file\nVersion: 1\n#\nname: Power\ntype: parsed\n"
        "protocol: NEC\naddress: 04 00 00 00\ncommand: 08 00 00 00\n#\nname: Mute\n"
        "type: parsed\nprotocol: Samsung32\naddress: 07 00 00 00\ncommand: 0F 00 00 00\n"
    )
    code, out, _ = run(["ir", "convert", str(path), "--to", "lirc"], capsys)
    assert code == 0
    assert [name for name, _ in ir_codes.formats.lirc.parse_lirc(out)] == ["Power", "Mute"]


def test_convert_between_formats(capsys: pytest.CaptureFixture[str]) -> None:
    pronto = ir_codes.formats.pronto.to_pronto(ir_codes.encode("SONY", 1, 21, bits=15))
    code, out, _ = run(["ir", "convert", pronto, "--to", "nature"], capsys)
    assert code == 0
    assert json.loads(out)["freq"] == 40
    assert ir_codes.decode(read_signal(out)).bits == 15


def test_ac_command_builds_the_whole_state(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ir", "ac", "mitsubishi", "--power", "on", "--mode", "cool", "--temp", "24", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["protocol"] == "MITSUBISHI_AC"
    # The state IRremoteESP8266's IRMitsubishiAC produces for power on, cool, 24 °C, fan auto.
    assert doc["extras"]["state"] == "23cb26010020180836c067000000000000b2"
    assert doc["ac"]["target_temperature"] == 24


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ir", "ac", "acme"],
            "no air-conditioner encoder for brand 'acme'; choose one of: daikin",
        ),
        (["ir", "decode", "0000 006D 0001 0000 0010"], "Pronto code too short"),
        (["ir", "decode", "1000 1000 1000 1000"], "no known IR protocol matches"),
        (["ir", "decode", "JgAEAAEC"], "truncated"),
        (["ir", "encode", "NEC", "--address", "70000", "--command", "1"],
         "address must be 0..65535"),
        (["ir", "encode", "NEC"], "NEC needs --address and --command"),
        (["ir", "encode", "SONY", "--command", "0x15"], "SONY needs --address"),
        # 0xCC33 goes out as the bytes 33 CC: the standard frame of command 0x33.
        (["ir", "encode", "NEC", "--address", "4", "--command", "0xcc33"],
         "NEC command 0xCC33 is the 8-bit command 0x33 followed by its inverse 0xCC"),
        (["ir", "encode", "NEC", "--address", "0xfb04", "--command", "8"],
         "pass 0x04, or 0xFB"),
        (["ir", "decode", "/nonexistent/file.ir"], "/nonexistent/file.ir: no such file"),
        (["ir", "convert", "remote.ir", "--to", "pronto"], "remote.ir: no such file"),
        (["ir", "ac", "daikin", "--temp", "45"], "accepts target temperatures 10..32"),
        (["ir", "convert", "what is this", "--to", "raw"], "could not recognise"),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point_runs_as_a_subprocess() -> None:
    argv = ["encode", "JVC", "--address", "3", "--command", "124", "--format", "nature"]
    done = subprocess.run(
        [sys.executable, "-m", "ir_codes", *argv],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ir_codes.decode(read_signal(done.stdout)).command == 124
    bad = subprocess.run(
        [sys.executable, "-m", "ir_codes", "decode", "JgAEAAEC"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_decode_shows_a_valid_ac_frame_even_with_settings_it_cannot_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = bytearray(ir_codes.ac.state_bytes("daikin", ir_codes.AcState()))
    state[24] = 0x20  # a fan code no Daikin table here knows
    state[34] = sum(state[16:34]) & 0xFF
    raw = ir_codes.encode("DAIKIN", state=state.hex())
    code, out, _ = run(["ir", "decode", " ".join(map(str, raw.timings_us))], capsys)
    assert code == 0
    assert out.strip() == f"DAIKIN address=0x0 command=0x0 bits=280 state={state.hex()}"
    with pytest.raises(ir_codes.DecodeError, match="fan code 0x2 this library does not know"):
        ir_codes.decode_ac(raw)
