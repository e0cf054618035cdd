"""The IR store moved to `integrations.ir_devices.store` (shared with ESPHome blasters)."""

from integrations.ir_devices.store import IrStore, _read, _write

__all__ = ["IrStore", "_read", "_write"]
