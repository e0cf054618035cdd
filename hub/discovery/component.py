"""The hub on the LAN over mDNS: browse for adoptable devices and advertise `_homehub._tcp`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub import __version__
from hub.api.router import Router
from hub.config import HubConfig
from hub.discovery.advertise import Advertisement, advertise
from hub.discovery.routing import discovery_handler
from hub.discovery.service import DiscoveryService

if TYPE_CHECKING:
    from hub.app import Hub

_LOG = logging.getLogger(__name__)

API_VERSION = "1"


class LanDiscovery:
    """HubComponent: found services become 'discovered, not adopted'; the hub is announced."""

    def __init__(self, interfaces: list[str] | None = None) -> None:
        self._interfaces = interfaces
        self._service: DiscoveryService | None = None
        self._advertisement: Advertisement | None = None
        self._hub: Hub | None = None

    async def start(self, hub: Hub) -> None:
        """Browse and advertise (a LAN without multicast only loses the automatic parts)."""
        self._hub = hub
        on_found = discovery_handler(hub.registry, hub.registry.integrations)
        self._service = DiscoveryService(on_found, interfaces=self._interfaces)
        try:
            await self._service.start()
        except OSError as err:
            _LOG.warning("mDNS is unavailable (%s); add devices by address in the config", err)
            self._service = None

    def register_routes(self, router: Router) -> None:
        """No endpoints of its own: /api/v1/discovered lists what it found."""

    async def announce(self, hub: Hub) -> None:
        """Advertise the API once its port is known (called after the API binds)."""
        if self._service is None:
            return
        try:
            self._advertisement = await advertise(
                self._service.zeroconf,
                hub.config.name,
                hub.port,
                {
                    "id": hub.hub_id,
                    "name": hub.config.name,
                    "api": API_VERSION,
                    "version": __version__,
                },
            )
        except OSError as err:
            _LOG.warning("could not advertise the hub over mDNS: %s", err)

    async def stop(self) -> None:
        """Say goodbye on the LAN and stop browsing."""
        if self._advertisement is not None:
            await self._advertisement.close()
            self._advertisement = None
        if self._service is not None:
            await self._service.stop()
            self._service = None


def lan_discovery(config: HubConfig) -> LanDiscovery | None:
    """Factory for default_components: on unless the config turns mDNS off."""
    return LanDiscovery() if config.advertise else None
