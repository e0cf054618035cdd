"""Helpers for the Nature Remo tests: a recording HubPort and condition polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

import ir_codes
from hub.model import DeviceDescription, DiscoveredDevice
from integrations.nature_remo import RemoSignal


class RecordingHub:
    """A HubPort that remembers what an integration tells it (values checked against specs)."""

    def __init__(self, storage: Path) -> None:
        self.devices: dict[str, DeviceDescription] = {}
        self.reported: dict[str, dict[str, Any]] = {}
        self.online: dict[str, bool] = {}
        self.reasons: dict[str, str] = {}
        self.found: list[DiscoveredDevice] = []
        self._storage = storage

    async def add_device(self, description: DeviceDescription) -> None:
        self.devices[description.id] = description

    async def report(
        self, device_id: str, values: Mapping[str, Any], *, timestamp: float | None = None
    ) -> None:
        spec = self.devices[device_id].properties
        for key, value in values.items():
            spec[key].validate(value)
        self.reported.setdefault(device_id, {}).update(values)

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        self.online[device_id] = online
        self.reasons[device_id] = reason

    async def discovered(self, found: DiscoveredDevice) -> None:
        self.found.append(found)

    def device(self, device_id: str) -> DeviceDescription | None:
        return self.devices.get(device_id)

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        return [d for d in self.devices.values() if d.integration == integration]

    def storage_dir(self, integration: str) -> Path:
        path = self._storage / integration
        path.mkdir(parents=True, exist_ok=True)
        return path


def nec(address: int, command: int) -> RemoSignal:
    """An NEC button as a Remo hears it."""
    return RemoSignal(38, ir_codes.encode("NEC", address, command).timings_us)


def decoded(signal: RemoSignal) -> tuple[str, int, int]:
    """(protocol, address, command) of what a Remo sent."""
    code = ir_codes.decode(signal.raw())
    return code.protocol, code.address, code.command


async def wait_until(cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll a condition until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := cond()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or cond}")
        await asyncio.sleep(0.02)
    return result


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
