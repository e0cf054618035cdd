"""Fixtures of the ESPHome tests."""

from __future__ import annotations

import pytest
from esphome_testkit import RecordingHub


@pytest.fixture
def recording_hub() -> RecordingHub:
    return RecordingHub()
