"""Helpers for the TUI tests: a home of virtual devices and waiting for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hub.model import spec_for
from integrations.virtual import VirtualDevice, VirtualIntegration
from integrations.virtual.integration import demo_devices


def home_devices() -> list[VirtualDevice]:
    """The virtual demo flat plus an air conditioner and a smart meter, all with fixed values."""
    devices = demo_devices()
    devices.append(
        VirtualDevice(
            "virtual-aircon",
            "Bedroom aircon",
            {
                "power": spec_for("power"),
                "mode": spec_for("mode"),
                "target_temperature": spec_for("target_temperature", minimum=16, maximum=30),
                "fan_speed": spec_for("fan_speed"),
            },
            {"power": False, "mode": "cool", "target_temperature": 26.0, "fan_speed": "auto"},
            room="Bedroom",
        )
    )
    devices.append(
        VirtualDevice(
            "virtual-meter",
            "Smart meter",
            {"power_w": spec_for("power_w"), "energy_kwh": spec_for("energy_kwh")},
            {"power_w": 420.0, "energy_kwh": 1234.5},
            room="Utility",
        )
    )
    return devices


def home() -> VirtualIntegration:
    """A fresh virtual integration with the test home."""
    return VirtualIntegration(home_devices())


async def wait_for(
    cond: Callable[[], Any], what: str, timeout: float = 20.0, step: float = 0.02
) -> Any:
    """Poll `cond` until it is truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while not (result := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)
    return result
