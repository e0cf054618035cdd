"""The MQTT integration: Zigbee2MQTT, Tasmota and Shelly Gen2 devices through one broker.

Config: `[integrations.mqtt]` (see `integrations.mqtt.config`). One broker connection carries
every family; devices found on it wait under GET /api/v1/discovered until adopted
(`adopt = "auto"` adds them at once); adopted devices come back after a restart.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from hub.model import DiscoveredDevice, HubPort, Integration
from integrations.errors import CommandFailed, IntegrationError
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.family import DOMAIN, Family
from integrations.mqtt.link import Backoff, MqttLink

_LOG = logging.getLogger(__name__)


_FAMILIES = {
    "zigbee2mqtt": "integrations.mqtt.zigbee2mqtt:Zigbee2MqttFamily",
    "tasmota": "integrations.mqtt.tasmota:TasmotaFamily",
    "shelly": "integrations.mqtt.shelly:ShellyFamily",
}


def _family_class(name: str) -> type[Family]:
    module, _, cls = _FAMILIES[name].partition(":")
    found: type[Family] = getattr(importlib.import_module(module), cls)
    return found


class MqttIntegration(Integration):
    """Devices on an MQTT broker."""

    domain = DOMAIN

    def __init__(self, backoff: Backoff | None = None) -> None:
        self.config = MqttConfig()
        self._backoff = backoff
        self._link: MqttLink | None = None
        self.families: dict[str, Family] = {}

    @property
    def link(self) -> MqttLink:
        """The broker connection."""
        if self._link is None:
            raise IntegrationError("the MQTT integration is not set up")
        return self._link

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Connect to the broker (in the background: a broker that is down is retried)."""
        self.config = MqttConfig.from_mapping(config)
        self._link = MqttLink(self.config.broker, name="devices",
                              max_payload_bytes=self.config.max_payload_bytes,
                              on_connected=self._connected, on_disconnected=self._dropped,
                              backoff=self._backoff)
        self.families = {name: _family_class(name)(hub, self._link, self.config)
                         for name in self.config.families}
        for family in self.families.values():
            await family.start()
        await self._link.start()
        _LOG.info("MQTT: connecting to %s for %s", self.config.broker.describe(),
                  ", ".join(self.families) or "no device families")

    async def _connected(self) -> None:
        for family in self.families.values():
            await family.connected()

    async def _dropped(self) -> None:
        _LOG.warning("MQTT: lost the broker at %s; devices are offline until it is back",
                     self.config.broker.describe())
        for family in self.families.values():
            await family.broker_down()

    def _family_of(self, device_id: str) -> Family:
        for family in self.families.values():
            if family.owns(device_id):
                return family
        raise CommandFailed(f"{device_id} is not a device of an enabled MQTT family")

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Add a device one of the families offered."""
        await self._family_of(found.key).adopt(found)

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Publish the change in the device family's own command format."""
        await self._family_of(device_id).apply_desired(device_id, changes)

    async def remove(self, device_id: str) -> None:
        """Forget a device (offered again when next announced)."""
        for family in self.families.values():
            if family.owns(device_id):
                await family.remove(device_id)

    async def settle(self) -> None:
        """Wait for background work of every family (tests)."""
        for family in self.families.values():
            await family.settle()

    async def shutdown(self) -> None:
        """Disconnect."""
        for family in self.families.values():
            await family.shutdown()
        if self._link is not None:
            await self._link.close()
