"""Broadlink RM IR blasters: packet codec, emulator, async client and the hub integration.

    from integrations.broadlink import BroadlinkEmulator, BroadlinkIntegration
"""

from integrations.broadlink.client import BlasterInfo, BroadlinkClient, LearnTimeout
from integrations.broadlink.emulator import MODELS, BroadlinkEmulator
from integrations.broadlink.integration import BroadlinkIntegration, blaster_device_id
from integrations.broadlink.packet import PacketError
from integrations.ir_devices.profiles import IrProfile, ProfileError, load_profile

__all__ = [
    "MODELS",
    "BlasterInfo",
    "BroadlinkClient",
    "BroadlinkEmulator",
    "BroadlinkIntegration",
    "IrProfile",
    "LearnTimeout",
    "PacketError",
    "ProfileError",
    "blaster_device_id",
    "load_profile",
]
