"""The ESPHome integration: native API devices (plaintext or Noise) through aioesphomeapi.

Config section::

    esphome:
      devices:
        - {host: 192.168.1.40, port: 6053, noise_psk: "base64 key", name: kitchen-sensor}

Adopted devices carry the same entry in their DeviceDescription's ``extra`` (plus ``mac``), so
the hub can hand them back in ``devices`` after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from hub.model import DiscoveredDevice, HubPort, Integration
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError
from integrations.esphome.config import DEFAULT_PORT, DeviceConfig
from integrations.esphome.link import (
    AUTH_ERRORS,
    DOMAIN,
    DeviceLink,
    LinkState,
    device_id_for,
    explain,
)

_LOGGER = logging.getLogger(__name__)

ADOPT_TIMEOUT = 15.0


class EsphomeIntegration(Integration):
    """Drives ESPHome nodes; one `DeviceLink` (client + reconnect logic) per device."""

    domain: ClassVar[str] = DOMAIN

    def __init__(self, *, client_info: str = "homehub", keepalive: float = 20.0) -> None:
        self._client_info = client_info
        self._keepalive = keepalive
        self._hub: HubPort | None = None
        self._links: list[DeviceLink] = []

    @property
    def links(self) -> tuple[DeviceLink, ...]:
        """Every device connection (for status pages and tests)."""
        return tuple(self._links)

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Connect to every configured device (in the background; offline ones are retried)."""
        self._hub = hub
        entries = config.get("devices", []) or []
        if not isinstance(entries, list):
            raise IntegrationError("esphome.devices must be a list of {host, port, ...} entries")
        # Devices adopted earlier resume from what the hub stored (their `extra` is a config entry).
        stored = [dict(d.extra) for d in hub.stored_devices(DOMAIN) if d.extra.get("host")]
        for entry in [*entries, *stored]:
            cfg = DeviceConfig.from_mapping(entry)
            if any((link.cfg.host, link.cfg.port) == (cfg.host, cfg.port) for link in self._links):
                continue  # listed twice (config and a stored adoption): one connection
            await self._start_link(cfg)

    async def _start_link(self, cfg: DeviceConfig) -> DeviceLink:
        if self._hub is None:
            raise IntegrationError("the esphome integration is not set up yet")
        link = DeviceLink(cfg, self._hub, client_info=self._client_info, keepalive=self._keepalive)
        self._links.append(link)
        await link.start()
        return link

    async def _drop_link(self, link: DeviceLink) -> None:
        if link in self._links:
            self._links.remove(link)
        await link.stop()

    def _link_for_device(self, device_id: str) -> DeviceLink:
        for link in self._links:
            if link.device_id == device_id:
                return link
        raise CommandFailed(f"{device_id} is not an ESPHome device this hub knows")

    def _link_for_mac(self, mac: str | None) -> DeviceLink | None:
        if not mac:
            return None
        mac = mac.replace(":", "").lower()
        wanted = device_id_for(mac)
        for link in self._links:
            if link.cfg.mac == mac or link.device_id == wanted:
                return link
        return None

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Connect to a discovered node; `options` may carry `noise_psk` and `password`.

        Returns once the device is added to the hub. CommandFailed when the key or password is
        wrong, DeviceUnreachable when it does not answer within `options["timeout"]` seconds.
        """
        mac = str(found.properties.get("mac", "")) or None
        existing = self._link_for_mac(mac)
        if existing is not None:
            if existing.cfg.host == found.address and existing.cfg.port == found.port:
                return
            await self._drop_link(existing)
        cfg = DeviceConfig.from_mapping({
            "host": found.address,
            "port": found.port or DEFAULT_PORT,
            "noise_psk": options.get("noise_psk"),
            "password": options.get("password"),
            "mac": mac,
        })
        link = await self._start_link(cfg)
        timeout = float(options.get("timeout", ADOPT_TIMEOUT))
        try:
            err = await link.first_result(timeout)
        except TimeoutError:
            await self._drop_link(link)
            raise DeviceUnreachable(
                f"the ESPHome device at {link.address} did not answer within {timeout:g} s; "
                "check that it is powered and on this network, then adopt it again"
            ) from None
        if err is not None:
            await self._drop_link(link)
            if isinstance(err, AUTH_ERRORS):
                raise CommandFailed(explain(err)) from err
            raise DeviceUnreachable(
                f"the ESPHome device at {link.address} cannot be reached ({err}); check that it "
                "is powered and on this network, then adopt it again"
            ) from err

    async def follow(self, found: DiscoveredDevice) -> bool:
        """An adopted device was announced (again): connect to it where it is now.

        Reconnects a known device that moved, and starts a device the hub has stored (adopted
        before a restart) from its description's `extra`. True if the device is ours.
        """
        mac = str(found.properties.get("mac", "")).replace(":", "").lower() or None
        port = found.port or DEFAULT_PORT
        link = self._link_for_mac(mac)
        if link is None:
            stored = self._hub.device(device_id_for(mac)) if mac and self._hub else None
            if stored is None or stored.integration != DOMAIN:
                return False
            entry = {**stored.extra, "host": found.address, "port": port, "mac": mac}
            await self._start_link(DeviceConfig.from_mapping(entry))
            return True
        if (link.cfg.host, link.cfg.port) == (found.address, port):
            return True
        _LOGGER.info("%s moved to %s:%d", link.address, found.address, port)
        cfg = DeviceConfig.from_mapping({**link.cfg.to_dict(), "host": found.address, "port": port})
        await self._drop_link(link)
        await self._start_link(cfg)
        return True

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send desired values as entity commands; the device confirms by streaming its state."""
        await self._link_for_device(device_id).apply(changes)

    async def remove(self, device_id: str) -> None:
        """Forget a device: disconnect and stop reconnecting."""
        for link in list(self._links):
            if link.device_id == device_id:
                await self._drop_link(link)

    async def shutdown(self) -> None:
        """Disconnect from every device."""
        links, self._links = self._links, []
        await asyncio.gather(*(link.stop() for link in links), return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        """One line per device connection: address, device id, state, last error."""
        return [
            {
                "address": link.address,
                "device_id": link.device_id,
                "state": link.state.name.lower(),
                "connected": link.state is LinkState.CONNECTED,
                "error": explain(link.last_error) if link.last_error else None,
            }
            for link in self._links
        ]
