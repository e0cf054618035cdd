"""Helpers for the ESPHome tests: a recording HubPort and condition polling."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from hub.model import DeviceDescription, DiscoveredDevice


class RecordingHub:
    """A HubPort that remembers everything an integration tells it."""

    def __init__(self) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.online: dict[str, bool] = {}
        self.availability: list[tuple[str, bool, str]] = []
        self.found: list[DiscoveredDevice] = []

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(
        self, device_id: str, values: Mapping[str, Any], *, timestamp: float | None = None
    ) -> None:
        assert device_id in self.devices, "report before add_device"
        spec = self.devices[device_id].properties
        for key, value in values.items():
            spec[key].validate(value)  # every value fits the property it claims
        self.reported.setdefault(device_id, {}).update(values)
        self.reports.append((device_id, dict(values)))

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        self.online[device_id] = online
        self.availability.append((device_id, online, reason))

    async def discovered(self, found: DiscoveredDevice) -> None:
        self.found.append(found)

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return [d for d in self.devices.values() if d.integration == integration]

    def storage_dir(self, integration: str) -> Path:
        """A private folder per integration, like the hub's (kept secrets of adopted nodes)."""
        return Path(tempfile.gettempdir()) / f"homehub-test-{os.getpid()}-{id(self)}" / integration


async def wait_until(cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll a condition until it is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or cond}")
        await asyncio.sleep(0.02)


async def poll_json(rh: Any, path: str, cond: Any, what: str, timeout: float = 30.0) -> Any:
    """GET `path` until `cond(json)` holds; fail with the last body after `timeout` seconds."""
    last: Any = None
    end = time.monotonic() + timeout
    while True:
        resp = await rh.client.get(path)
        if resp.status_code == 200:
            last = resp.json()
            if cond(last):
                return last
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}; last {path}: {last}")
        await asyncio.sleep(0.05)
