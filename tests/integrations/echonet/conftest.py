"""Fixtures for the ECHONET Lite tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from skip_policy import shared_data


@pytest.fixture
def echonet_testdata() -> Path:
    """../shared/testdata/echonet, or skip."""
    return shared_data("echonet")


@pytest.fixture
def openecho(echonet_testdata: Path) -> dict[str, Any]:
    """The captured OpenECHO exchanges."""
    return json.loads((echonet_testdata / "openecho_frames.json").read_text("utf-8"))
