"""An ESPHome node for `homehub demo`: a kitchen temperature/humidity sensor with a relay."""

from __future__ import annotations

from typing import Any

from integrations.esphome.config import DEFAULT_PORT
from integrations.esphome.emulated_entities import sensor_only_entities
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
