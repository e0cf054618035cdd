"""Fixtures for the relay suites."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from relay_testkit import PASSWORD, running_relay

from relay import RelayServer


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayServer]:
    """A relay with two accounts: alice and bob."""
    async with running_relay(tmp_path / "relay") as server:
        await server.create_account("alice@example.org", PASSWORD)
        await server.create_account("bob@example.org", PASSWORD)
        yield server
