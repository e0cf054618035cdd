"""ESPHome nodes for `homehub demo`: a kitchen sensor with a relay, and an IR blaster."""

from __future__ import annotations

from typing import Any

from integrations.esphome.config import DEFAULT_PORT
from integrations.esphome.emulated_entities import ir_blaster_entities, sensor_only_entities
from integrations.esphome.emulator import EsphomeEmulator


def demo_node(
    bind: str,
    port: int = DEFAULT_PORT,
    *,
    name: str = "kitchen-sensor",
    noise_psk: str | None = None,
    advertise: bool = False,
) -> tuple[EsphomeEmulator, dict[str, Any]]:
    """The emulator (not started) and its entry for the `esphome.devices` config list."""
    dev = EsphomeEmulator(name, bind=bind, port=port, noise_psk=noise_psk,
                          entities=sensor_only_entities(), advertise=advertise)
    dev.set_sensor("temperature", 21.5)
    dev.set_sensor("humidity", 45.0)
    entry: dict[str, Any] = {"host": bind, "port": port, "mac": dev.mac_hex}
    if noise_psk is not None:
        entry["noise_psk"] = noise_psk
    return dev, entry


def demo_ir_node(
    bind: str, port: int = DEFAULT_PORT, *, name: str = "den-ir-blaster"
) -> tuple[EsphomeEmulator, dict[str, Any]]:
    """An ESPHome IR blaster (the emulator, not started) and its `esphome.devices` entry, with
    a TV and an air conditioner it drives (packaged code sets)."""
    dev = EsphomeEmulator(name, bind=bind, port=port, entities=ir_blaster_entities())
    dev.set_sensor("temperature", 22.0)
    entry: dict[str, Any] = {
        "host": bind,
        "port": port,
        "mac": dev.mac_hex,
        "ir_devices": [
            {"id": "den-tv", "name": "Den TV", "room": "Den", "profile": "samsung_tv"},
            {"id": "den-ac", "name": "Den air conditioner", "room": "Den",
             "profile": "daikin_ac"},
        ],
    }
    return dev, entry
