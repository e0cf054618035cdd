"""Helpers for the TUI tests: a home of virtual devices and waiting for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from hub.clock import ManualClock
from hub.model import DiscoveredDevice, spec_for
from integrations.virtual import VirtualDevice, VirtualIntegration


def home_devices() -> list[VirtualDevice]:
    """A small flat with fixed values (the snapshots depend on every one of them)."""
    devices = [
        VirtualDevice(
            "virtual-lamp",
            "Reading lamp",
            {"power": spec_for("power"), "brightness": spec_for("brightness")},
            {"power": False, "brightness": 60},
            room="Living room",
        ),
        VirtualDevice(
            "virtual-heater",
            "Bathroom heater",
            {
                "power": spec_for("power"),
                "target_temperature": spec_for("target_temperature", minimum=10, maximum=30),
                "temperature": spec_for("temperature"),
            },
            {"power": False, "target_temperature": 21.0, "temperature": 18.5},
            room="Bathroom",
        ),
        VirtualDevice(
            "virtual-motion", "Hall motion", {"motion": spec_for("motion")}, {"motion": False},
            room="Hall",
        ),
    ]
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


class FindingVirtual(VirtualIntegration):
    """Virtual devices plus a smart plug that is 'found on the network' and can be adopted."""

    PLUG = DiscoveredDevice(
        key="virtual-plug", integration="virtual", name="Smart plug 3F2A",
        address="127.0.0.77", model="plug-v1",
    )

    async def discover(self) -> None:
        """Announce the plug."""
        await self.hub.discovered(self.PLUG)

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Add the plug as a device."""
        plug = VirtualDevice(found.key, found.name, {"power": spec_for("power")},
                             {"power": False})
        self.devices[plug.id] = plug
        await self.hub.add_device(plug.description())
        await self.hub.report(plug.id, plug.values)


T0 = 1_700_000_000.0
STEP_S = 1800.0
SAMPLES = 48


async def seed_meter_history(clock: ManualClock, virtual: VirtualIntegration) -> float:
    """A day of half-hourly meter readings (a fixed pattern); returns the final time."""
    for i in range(1, SAMPLES):
        await clock.set(T0 + i * STEP_S)
        await virtual.sense(
            "virtual-meter",
            {"power_w": 300.0 + (i % 12) * 50.0, "energy_kwh": round(1234.5 + i * 0.25, 2)},
        )
    return T0 + (SAMPLES - 1) * STEP_S


def laid_out(app: Any, selector: str) -> bool:
    """The widget exists on the current screen and has a place on it (so a click lands)."""
    found = app.screen.query(selector)
    return bool(found) and found.first().region.width > 0


async def click(pilot: Any, selector: str) -> None:
    """Click a widget once the screen has settled, and fail if the click landed elsewhere.

    Pilot aims at the widget's region as laid out when the click starts. Right after a change
    (a section shown, a value set) that layout can be stale, and the click lands on whatever is
    there instead: it is lost, and the test only times out later waiting for what it should
    have done (seen once in CI, on the IR wizard's Save).
    """
    await wait_for(lambda: laid_out(pilot.app, selector), f"{selector} on the screen")
    await pilot.pause()
    assert await pilot.click(selector), f"the click on {selector} landed elsewhere"
