"""The public surface stays deliberate and every module imports on its own (no cycles)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import ir_codes

ROOT = Path(__file__).resolve().parents[2]


def test_all_lists_existing_names_in_order() -> None:
    assert ir_codes.__all__ == sorted(ir_codes.__all__)
    for name in ir_codes.__all__:
        assert hasattr(ir_codes, name), name
    for name in ("encode", "decode", "encode_ac", "RawSignal", "IrCode", "load_profile"):
        assert name in ir_codes.__all__


def test_lead_facing_api_is_reachable_from_the_package() -> None:
    raw = ir_codes.encode("NEC", 4, 8)
    packet = ir_codes.formats.broadlink.to_packet(raw)
    assert ir_codes.decode(ir_codes.formats.broadlink.from_packet(packet)).command == 8
    assert ir_codes.ac.encode_ac("panasonic", ir_codes.AcState()).carrier_hz == 36_700
    assert ir_codes.codesets.load_profile("samsung_tv").kind == "tv"


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = [
        m.name
        for m in pkgutil.walk_packages(ir_codes.__path__, "ir_codes.")
        if m.name != "ir_codes.__main__"
    ]
    script = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    for name in names:
        done = subprocess.run(
            [sys.executable, "-c", script, name], cwd=ROOT, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{name}: {done.stderr[-500:]}"
