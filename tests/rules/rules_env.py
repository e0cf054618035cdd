"""Shared helpers for rule engine tests: a real hub on loopback, virtual devices, ManualClock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.clock import ManualClock
from hub.model import spec_for
from hub.rules import Notice, RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.virtual.integration import VirtualDevice, VirtualIntegration

# 2023-11-14 22:13:20 UTC, a Tuesday.
T0 = 1_700_000_000.0


class ListSink:
    """A notification sink that keeps what it got (the real sinks are tested separately)."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def send(self, notice: Notice) -> None:
        self.notices.append(notice)


def devices(values: dict[str, dict[str, Any]] | None = None) -> list[VirtualDevice]:
    out = [
        VirtualDevice(
            "heater",
            "Heater",
            {
                "power": spec_for("power"),
                "temperature": spec_for("temperature"),
                "target_temperature": spec_for("target_temperature", minimum=10, maximum=30),
            },
            {"power": False, "temperature": 20.0, "target_temperature": 21.0},
        ),
        VirtualDevice(
            "lamp",
            "Lamp",
            {"power": spec_for("power"), "brightness": spec_for("brightness")},
            {"power": False, "brightness": 50},
        ),
        VirtualDevice("door", "Door", {"contact": spec_for("contact")}, {"contact": False}),
    ]
    for dev in out:
        dev.values.update((values or {}).get(dev.id, {}))
    return out


@dataclass
class Env:
    """One test hub with the rules engine."""

    rh: RunningHub
    engine: RulesEngine
    virtual: VirtualIntegration
    clock: ManualClock
    sink: ListSink

    @property
    def client(self) -> Any:
        return self.rh.client

    async def rule(self, doc: dict[str, Any]) -> dict[str, Any]:
        resp = await self.client.post("/api/v1/rules", json=doc)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    async def sense(self, device: str, **values: Any) -> None:
        await self.virtual.sense(device, values)

    def traces(self, rule_id: str) -> list[dict[str, Any]]:
        return self.engine.traces(rule_id)

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await settle()

    def value(self, device: str, prop: str) -> Any:
        rec = self.rh.hub.registry.devices[device]
        r = rec.shadow.reported.get(prop)
        return None if r is None else r.value


async def settle() -> None:
    """Let tasks woken by an event or the clock run (DB commits go through a thread)."""
    for _ in range(3):
        await asyncio.sleep(0.01)


async def wait_for(cond: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll a condition until it holds or the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = cond()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def make_env(
    data_dir: Path,
    clock: ManualClock | None = None,
    config: dict[str, Any] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> AsyncIterator[Env]:
    """A hub whose virtual devices start with `values` (as if still on after a restart)."""
    clock = clock or ManualClock(T0)
    sink = ListSink()
    engine = RulesEngine(sinks=[sink])
    virtual = VirtualIntegration(devices(values))
    async with running_hub(
        data_dir, [virtual], config=config, clock=clock, components=[engine]
    ) as rh:
        await rh.hub.wait_integrations()
        yield Env(rh, engine, virtual, clock, sink)
