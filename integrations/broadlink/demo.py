"""An emulated blaster and matching config for `homehub demo`: a TV and an AC on one RM4 pro."""

from __future__ import annotations

from typing import Any

from integrations.broadlink.captures import DEMO_CAPTURES
from integrations.broadlink.emulator import BroadlinkEmulator


def demo_emulator(
    bind: str, port: int = 0, name: str = "Living room RM4", mac: bytes | None = None
) -> BroadlinkEmulator:
    """An RM4 pro whose learning mode hears the demo TV remote's buttons after 3 s."""
    return BroadlinkEmulator(
        bind, port, model="rm4pro", name=name, mac=mac, auto_press=DEMO_CAPTURES.values(),
        auto_press_delay=3.0,
    )


def demo_config(emulator: BroadlinkEmulator) -> dict[str, Any]:
    """`[integrations.broadlink]` for the demo: the blaster, a TV and a Daikin AC through it."""
    return {
        "hosts": [f"{emulator.bind}:{emulator.port}"],
        "devices": [
            {
                "id": "living-tv",
                "name": "Living room TV",
                "room": "Living room",
                "blaster": emulator.mac_text,
                "profile": {
                    "kind": "tv",
                    "commands": {
                        "power": DEMO_CAPTURES["tv_power"].hex(),
                        "volume_up": DEMO_CAPTURES["tv_volume_up"].hex(),
                        "volume_down": {"protocol": "NEC", "address": 0x04, "command": 0x03},
                        "mute": {"protocol": "NEC", "address": 0x04, "command": 0x09},
                    },
                    "power": {"toggle": "power"},
                },
            },
            {
                "id": "bedroom-ac",
                "name": "Bedroom AC",
                "room": "Bedroom",
                "blaster": emulator.mac_text,
                "profile": {"kind": "ac", "brand": "daikin"},
            },
        ],
    }
