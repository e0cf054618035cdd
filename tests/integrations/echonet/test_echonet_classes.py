"""The shipped class table agrees with the ECHONET Consortium MRA it was generated from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from integrations.echonet import classes
from integrations.echonet.mapping import (
    AIRCON_MODES,
    BATTERY_MODES,
    FAN_SPEEDS,
    HEATER_MODES,
    HOT_WATER,
    LIGHT_MODES,
    METER_UNITS,
    POWER_CODES,
)
from integrations.echonet.tools import gen_tables

SIX = ["0x0130", "0x0288", "0x0279", "0x027D", "0x0290", "0x026B"]
ACCESS = {"required": "r", "required_c": "rc", "required_o": "ro", "optional": "o",
          "notApplicable": "-"}
WIDTH = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4}


def _latest(entries: list[dict[str, Any]]) -> dict[str, Any]:
    latest = [e for e in entries if e.get("validRelease", {}).get("to") == "latest"]
    return latest[0] if latest else entries[-1]


def _forms(data: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    if "$ref" in data:
        return _forms(defs[data["$ref"].split("/")[-1]], defs)
    if "oneOf" in data:
        return [f for alt in data["oneOf"] for f in _forms(alt, defs)]
    return [data]


@pytest.mark.parametrize("code", SIX)
def test_table_matches_mra(echonet_testdata: Path, code: str) -> None:
    mra = echonet_testdata / "mra"
    defs = json.loads((mra / "definitions" / "definitions.json").read_text())["definitions"]
    doc = json.loads((mra / "devices" / f"{code}.json").read_text())
    spec = classes.class_spec(int(code, 16))
    assert spec is not None
    assert spec.name == doc["className"]["en"]
    by_epc: dict[int, list[dict[str, Any]]] = {}
    for prop in doc["elProperties"]:
        by_epc.setdefault(int(prop["epc"], 16), []).append(prop)
    assert set(spec.epcs) == set(by_epc)
    checked_sizes = 0
    for epc, entries in by_epc.items():
        want = _latest(entries)
        got = spec.epcs[epc]
        rule = want["accessRule"]
        assert (got.get, got.set, got.inf) == (
            ACCESS[rule["get"]], ACCESS[rule["set"]], ACCESS[rule["inf"]]), hex(epc)
        forms = _forms(want["data"], defs)
        enums = {int(e["edt"], 16): e["name"] for f in forms if f.get("type") == "state"
                 and f.get("size") == 1 for e in f["enum"]}
        assert got.states() == enums, hex(epc)
        sizes = [_size(f) for f in forms]
        if all(size is not None for size in sizes):
            assert got.size == (min(lo for lo, _ in sizes), max(hi for _, hi in sizes)), hex(epc)
            checked_sizes += 1
        numbers = [f for f in forms if f.get("type") == "number"]
        if numbers:
            number = got.number()
            assert number is not None
            assert (number.minimum, number.maximum) == (numbers[0].get("minimum"),
                                                        numbers[0].get("maximum")), hex(epc)
            assert number.size == WIDTH[numbers[0]["format"]]
            assert got.size is not None
            assert got.size[1] >= number.size
    assert checked_sizes > 0


def _size(form: dict[str, Any]) -> tuple[int, int] | None:
    """EDT size of the simple MRA forms; None for composite ones (objects, arrays...)."""
    kind = form.get("type")
    if kind == "number":
        return WIDTH[form["format"]], WIDTH[form["format"]]
    if kind in ("state", "numericValue"):
        return form["size"], form["size"]
    if kind == "level":
        return 1, 1
    if kind == "raw":
        return form["minSize"], form["maxSize"]
    return None


def test_spec_facts_from_the_protocol_sheet() -> None:
    aircon = classes.class_spec(0x0130)
    assert aircon is not None
    assert set(aircon.epcs[0xB0].states()) == {0x40, 0x41, 0x42, 0x43, 0x44, 0x45}
    target = aircon.epcs[0xB3].number()
    assert target is not None
    assert (target.minimum, target.maximum) == (0, 50)
    assert aircon.epcs[0xBB].get == "r"
    assert aircon.epcs[0xBB].set == "-"
    assert aircon.epcs[0xA0].level() == (0x31, 8)
    meter = classes.class_spec(0x0288)
    assert meter is not None
    assert meter.epcs[0xE7].size == (4, 4)
    assert classes.class_spec(0x0EF0) is not None
    assert classes.class_name(0x1234) == "ECHONET class 0x1234"


def test_mapped_codes_exist_in_the_mra() -> None:
    """Every code our vocabulary mapping writes is one the MRA defines for that EPC."""
    cases = [
        (0x0130, 0x80, POWER_CODES), (0x0130, 0xB0, AIRCON_MODES),
        (0x027D, 0xDA, BATTERY_MODES), (0x0290, 0xB6, LIGHT_MODES),
        (0x026B, 0xB0, HEATER_MODES), (0x026B, 0xC3, HOT_WATER),
    ]
    for code, epc, mapping in cases:
        spec = classes.class_spec(code)
        assert spec is not None
        prop = spec.epc(epc)
        assert prop is not None
        assert set(mapping.values()) <= set(prop.states()), (hex(code), hex(epc))
    aircon = classes.class_spec(0x0130)
    assert aircon is not None
    base, levels = aircon.epcs[0xA0].level() or (0, 0)
    assert {c for c in FAN_SPEEDS.values() if c != 0x41} == set(range(base, base + levels))
    meter = classes.class_spec(0x0288)
    assert meter is not None
    units = next(f for f in meter.epcs[0xE1].data if f["t"] == "numericValue")["enum"]
    assert {int(k, 16): float(v) for k, v in units.items()} == METER_UNITS


def test_generator_reproduces_the_shipped_table(echonet_testdata: Path, tmp_path: Path) -> None:
    out = tmp_path / "classes.json"
    assert gen_tables.main(["gen", str(echonet_testdata / "mra"), str(out)]) == 0
    assert out.read_bytes() == gen_tables.DEFAULT_OUT.read_bytes()
