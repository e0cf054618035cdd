"""What makes `homehub demo` feel like a home: its own block of loopback addresses (so two
demos on one machine do not meet), sensors that move, a remote pressed now and then (so IR
learning hears something), and a device plugged in after a while (so adoption can be tried).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hub.errors import HubError

BLOCKS = 200  # 127.0.<n>.60-66 for n in 0..199
LATE_DEVICE_AFTER_S = 20.0  # when the new ECHONET light is "plugged in"


@dataclass(frozen=True, slots=True)
class DemoAddresses:
    """The loopback addresses of one demo: `127.0.<block>.60` and up."""

    block: int

    def _at(self, last: int) -> str:
        return f"127.0.{self.block}.{last}"

    @property
    def echonet_hub(self) -> str:
        """Where the hub's ECHONET controller binds (UDP 3610)."""
        return self._at(60)

    @property
    def echonet_node(self) -> str:
        """The emulated ECHONET node with six appliances (UDP 3610)."""
        return self._at(61)

    @property
    def broadlink(self) -> str:
        """The emulated Broadlink RM4."""
        return self._at(62)

    @property
    def esphome(self) -> str:
        """The emulated ESPHome sensor board."""
        return self._at(63)

    @property
    def esphome_ir(self) -> str:
        """The emulated ESPHome IR blaster."""
        return self._at(64)

    @property
    def remo(self) -> str:
        """The emulated Nature Remo."""
        return self._at(65)

    @property
    def late_node(self) -> str:
        """The ECHONET node that appears after a while."""
        return self._at(66)


@contextlib.contextmanager
def demo_addresses(lock_dir: Path | None = None) -> Iterator[DemoAddresses]:
    """Reserve a block of addresses no other demo on this machine holds (a lock file per
    block, released when the demo ends or dies). ECHONET needs UDP port 3610 on fixed
    addresses, so two demos sharing a block would silently answer each other's devices."""
    folder = lock_dir or Path(tempfile.gettempdir())
    for block in range(BLOCKS):
        handle: IO[str] = open(folder / f"homehub-demo-127.0.{block}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue  # another demo runs on this block
        try:
            yield DemoAddresses(block)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise HubError(f"{BLOCKS} demos already run on this machine; stop one first")


async def home_life(
    addresses: DemoAddresses, balcony: Any, den_ir: Any, period_s: float = 4.0,
    late_after_s: float = LATE_DEVICE_AFTER_S,
) -> None:
    """Run until cancelled: sensors drift, a remote is pressed in the den, a light appears."""
    from integrations.echonet.emulator import EchonetNode
    from ir_codes import encode
    from ir_codes.formats import esphome as esphome_format

    rng = random.Random()
    outside, humidity, den = 14.5, 62.0, 22.4
    presses = [esphome_format.to_signed(encode("NEC", 0x04, c)) for c in (0x0B, 0x5A, 0x0E)]
    late = EchonetNode(addresses.late_node, ["light"])
    late.peers.add(addresses.echonet_hub)  # its start-up INF reaches the hub without multicast
    loop = asyncio.get_running_loop()
    late_at = loop.time() + late_after_s
    started = False
    try:
        for tick in range(1_000_000_000):
            outside += rng.uniform(-0.2, 0.2)
            humidity = min(95.0, max(30.0, humidity + rng.uniform(-1.0, 1.0)))
            den += rng.uniform(-0.1, 0.1)
            balcony.set_sensor("temperature", round(outside, 1))
            balcony.set_sensor("humidity", round(humidity, 1))
            den_ir.set_sensor("temperature", round(den, 1))
            den_ir.press_ir(presses[tick % len(presses)])  # someone uses the TV remote
            if not started and loop.time() >= late_at:
                await late.start()
                started = True
            await asyncio.sleep(period_s)
    finally:
        if started:
            await late.stop()
