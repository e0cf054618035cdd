"""IR devices (a blaster plus a profile, with assumed state), shared by every blaster kind.

    devices = IrDevices("broadlink", blaster_for=..., availability=...)
    await devices.setup(hub, configs, store_path, profile_dirs)
    await devices.apply_desired("bedroom-ac", {"mode": "heat"})
"""

from integrations.ir_devices.devices import (
    DEFAULT_AC_STATE,
    Blaster,
    IrDevice,
    IrDeviceConfig,
    IrDevices,
    ir_properties,
    parse_device_config,
)
from integrations.ir_devices.profiles import IrProfile, ProfileError, load_profile
from integrations.ir_devices.store import IrStore

__all__ = [
    "DEFAULT_AC_STATE",
    "Blaster",
    "IrDevice",
    "IrDeviceConfig",
    "IrDevices",
    "IrProfile",
    "IrStore",
    "ProfileError",
    "ir_properties",
    "load_profile",
    "parse_device_config",
]
