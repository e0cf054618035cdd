"""A Nature Remo for `homehub demo` and `homehub sim remo`: a TV and an air conditioner
behind it, and a room where someone presses a TV remote now and then (for learning)."""

from __future__ import annotations

from typing import Any

import ir_codes
from integrations.nature_remo.emulator import RemoEmulator
from integrations.nature_remo.signal import RemoSignal

# Buttons of the room's TV remote (NEC, address 0x04), heard in turn while the demo runs.
HEARD_BUTTONS = {"input": 0x0B, "netflix": 0x5A, "guide": 0x0E}


def heard_signals() -> list[RemoSignal]:
    """The room's remote presses as a Remo receives them."""
    return [
        RemoSignal(38, ir_codes.encode("NEC", 0x04, command).timings_us)
        for command in HEARD_BUTTONS.values()
    ]


def demo_remo(
    bind: str, port: int = 0, *, hear_every: float = 4.0, advertise: bool = False,
    instance: str | None = None,
) -> RemoEmulator:
    """The emulator (not started); someone presses a TV button at it every `hear_every` s."""
    return RemoEmulator(
        bind, port, instance=instance, advertise=advertise, auto_hear=heard_signals(),
        auto_hear_every=hear_every,
    )


def demo_config(remo: RemoEmulator) -> dict[str, Any]:
    """`[integrations.nature_remo]` for the demo: the Remo, a TV and an AC through it."""
    return {
        "hosts": [{"host": remo.bind, "port": remo.port, "name": remo.instance}],
        "poll_interval": 10.0,
        "devices": [
            {"id": "study-tv", "name": "Study TV", "room": "Study", "blaster": remo.instance,
             "profile": "samsung_tv"},
            {"id": "study-ac", "name": "Study air conditioner", "room": "Study",
             "blaster": remo.instance, "profile": "mitsubishi_ac"},
        ],
    }
