"""Helpers for the ECHONET Lite tests: a recording HubPort and a condition poller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from skip_policy import TESTDATA as SHARED_TESTDATA

from hub.model import DeviceDescription, DiscoveredDevice

TESTDATA = SHARED_TESTDATA / "echonet"


class RecordingHub:
    """A HubPort that keeps what an integration tells it (the real hub is tested elsewhere)."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.online: dict[str, bool] = {}
        self.found: list[DiscoveredDevice] = []

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(self, device_id: str, values: Mapping[str, Any], *,
                     timestamp: float | None = None) -> None:
        self.reported.setdefault(device_id, {}).update(values)

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        self.online[device_id] = online

    async def discovered(self, found: DiscoveredDevice) -> None:
        self.found.append(found)

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return [d for d in self.devices.values() if d.integration == integration]


async def wait_for(condition: Callable[[], bool], timeout: float = 15.0,
                   what: str = "condition") -> None:
    """Poll a condition until it holds (fails the test after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
