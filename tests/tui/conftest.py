"""Fixtures for the TUI tests: a real hub on loopback with virtual devices."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_testkit import home

from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualIntegration


@pytest.fixture
def virtual() -> VirtualIntegration:
    """The virtual devices of the hub under test."""
    return home()


@pytest.fixture
async def hub(tmp_path: Path, virtual: VirtualIntegration) -> AsyncIterator[RunningHub]:
    """A started hub whose devices are all registered."""
    async with running_hub(tmp_path / "hub", integrations=[virtual]) as rh:
        await rh.hub.wait_integrations()
        yield rh
