"""A furnished test home for backup tests: virtual devices, an emulated Broadlink blaster with an
IR device, the rule engine on a ManualClock, and the backup component, on loopback."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.backup.service import BackupService
from hub.clock import ManualClock
from hub.config import HubConfig
from hub.model import spec_for
from hub.rules import RulesEngine
from hub.testing import RunningHub, running_hub
from integrations.broadlink.emulator import BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration
from integrations.virtual.integration import VirtualDevice, VirtualIntegration

T0 = 1_700_000_000.0
BLASTER_ADDR = "127.0.0.118"

# Names that must never reach the relay in clear (the off-site tests grep for them).
SECRET_NAMES = ("Grandmas Heater", "Nursery Lamp", "Living room TV", "heater_guard")


def virtual_devices(values: dict[str, dict[str, Any]] | None = None) -> list[VirtualDevice]:
    out = [
        VirtualDevice(
            "heater",
            SECRET_NAMES[0],
            {"power": spec_for("power"), "temperature": spec_for("temperature")},
            {"power": False, "temperature": 20.0},
        ),
        VirtualDevice(
            "lamp",
            SECRET_NAMES[1],
            {"power": spec_for("power"), "brightness": spec_for("brightness")},
            {"power": False, "brightness": 10},
        ),
    ]
    for dev in out:
        dev.values.update((values or {}).get(dev.id, {}))
    return out


def blaster_config(emulator: BroadlinkEmulator) -> dict[str, Any]:
    return {
        "broadlink": {
            "hosts": [f"{BLASTER_ADDR}:{emulator.port}"],
            "devices": [
                {
                    "id": "tv",
                    "name": SECRET_NAMES[2],
                    "blaster": BLASTER_ADDR,
                    "profile": {"commands": {}},
                }
            ],
        }
    }


@dataclass
class Home:
    """One running test hub."""

    rh: RunningHub
    virtual: VirtualIntegration
    broadlink: BroadlinkIntegration
    engine: RulesEngine
    backups: BackupService
    clock: ManualClock

    @property
    def client(self) -> Any:
        return self.rh.client


@contextlib.asynccontextmanager
async def home(
    data_dir: Path,
    emulator: BroadlinkEmulator,
    clock: ManualClock | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    extra: tuple[Any, ...] = (),
    **config: Any,
) -> AsyncIterator[Home]:
    """Start the test home's hub on `data_dir` (stopped on exit)."""
    clock = clock or ManualClock(T0)
    settings = {"integrations": blaster_config(emulator), "backup_interval_h": 0.0, **config}
    cfg = HubConfig(data_dir=data_dir).with_overrides(**settings)
    virtual = VirtualIntegration(virtual_devices(values))
    broadlink = BroadlinkIntegration()
    engine = RulesEngine()
    backups = BackupService(cfg)
    async with running_hub(
        data_dir,
        [virtual, broadlink],
        config=settings,
        clock=clock,
        components=[engine, *extra, backups],
    ) as rh:
        await rh.hub.wait_integrations()
        yield Home(rh, virtual, broadlink, engine, backups, clock)


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its SHA-256 (to prove that nothing changed)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".homehub.lock"
    }
