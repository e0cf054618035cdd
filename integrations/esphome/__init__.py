"""ESPHome native API: the integration, and an emulated node that speaks the real protocol."""

from integrations.esphome.config import DeviceConfig
from integrations.esphome.demo import demo_ir_node, demo_node
from integrations.esphome.emulated_entities import (
    EmulatedEntity,
    EntityKind,
    EntitySet,
    default_entities,
    ir_blaster_entities,
    sensor_only_entities,
)
from integrations.esphome.emulator import EsphomeEmulator, IrTransmission
from integrations.esphome.integration import EsphomeIntegration
from integrations.esphome.mdns import ESPHOME_SERVICE_TYPE

__all__ = [
    "ESPHOME_SERVICE_TYPE",
    "DeviceConfig",
    "EmulatedEntity",
    "EntityKind",
    "EntitySet",
    "EsphomeEmulator",
    "EsphomeIntegration",
    "IrTransmission",
    "default_entities",
    "demo_ir_node",
    "demo_node",
    "ir_blaster_entities",
    "sensor_only_entities",
]
