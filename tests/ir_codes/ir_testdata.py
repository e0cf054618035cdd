"""Shared fixtures for ir_codes tests: the IRremoteESP8266 vectors in ../shared/testdata."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from skip_policy import TESTDATA, skip_mark

VECTORS_PATH = TESTDATA / "ir" / "irremoteesp8266_vectors.json"


@cache
def load_vectors() -> dict[str, Any]:
    """The vectors file, or an empty dict when shared/testdata is absent."""
    if not VECTORS_PATH.exists():
        return {}
    return json.loads(VECTORS_PATH.read_text())


def vectors(*protocols: str) -> list[Any]:
    """pytest params for the vectors of the given protocols (a skip marker if data is absent)."""
    data = load_vectors()
    if not data:
        return [pytest.param(None, marks=skip_mark("testdata", f"{VECTORS_PATH} not found"))]
    return [
        pytest.param(v, id=v["id"])
        for v in data["vectors"]
        if not protocols or v["protocol"] in protocols
    ]


def decode_cases() -> list[Any]:
    """pytest params for the jittered decode cases."""
    data = load_vectors()
    if not data:
        return [pytest.param(None, marks=skip_mark("testdata", f"{VECTORS_PATH} not found"))]
    return [pytest.param(c, id=c["id"]) for c in data["decode_cases"]]
