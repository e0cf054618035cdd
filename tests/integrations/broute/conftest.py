"""Fixtures for the B-route tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from broute_testkit import PASSWORD, RBID, SPEED, write_secrets

from integrations.broute.emulator import DongleEmulator


@pytest.fixture
async def dongle(tmp_path: Path) -> AsyncIterator[DongleEmulator]:
    """An emulated dongle + meter; `dongle.link` is a stable path that follows replugging."""
    emulator = DongleEmulator(rbid=RBID, password=PASSWORD, link=tmp_path / "wisun0",
                              speed=SPEED)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """The matching secrets file (mode 0600)."""
    return write_secrets(tmp_path / "broute-secrets.toml")
