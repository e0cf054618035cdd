"""Finding devices on the LAN over mDNS, and announcing the hub there."""

from hub.discovery.advertise import Advertisement, advertise, lan_addresses
from hub.discovery.converters import (
    DEFAULT_CONVERTERS,
    ESPHOME_SERVICE_TYPE,
    HOMEHUB_SERVICE_TYPE,
    REMO_SERVICE_TYPE,
    Converter,
    FoundService,
    esphome_device,
    nature_remo_device,
)
from hub.discovery.routing import discovery_handler
from hub.discovery.service import DiscoveryService

__all__ = [
    "DEFAULT_CONVERTERS",
    "ESPHOME_SERVICE_TYPE",
    "HOMEHUB_SERVICE_TYPE",
    "REMO_SERVICE_TYPE",
    "Advertisement",
    "Converter",
    "DiscoveryService",
    "FoundService",
    "advertise",
    "discovery_handler",
    "esphome_device",
    "lan_addresses",
    "nature_remo_device",
]
