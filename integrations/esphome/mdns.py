"""Announce an emulated ESPHome node over mDNS the way the firmware does."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

ESPHOME_SERVICE_TYPE = "_esphomelib._tcp.local."


def esphome_txt(
    *, mac: str, version: str, friendly_name: str, encrypted: bool
) -> dict[str, str]:
    """The TXT keys ESPHome firmware publishes (mac without separators, lower case)."""
    txt = {
        "mac": mac.replace(":", "").lower(),
        "version": version,
        "friendly_name": friendly_name,
        "platform": "ESP32",
        "board": "esp32dev",
        "network": "wifi",
    }
    if encrypted:
        txt["api_encryption"] = "Noise_NNpsk0_25519_ChaChaPoly_SHA256"
    return txt


class NodeAdvertisement:
    """One `<name>._esphomelib._tcp.local.` registration on its own zeroconf instance."""

    def __init__(
        self,
        name: str,
        address: str,
        port: int,
        properties: Mapping[str, str],
        interfaces: Sequence[str] | None = None,
    ) -> None:
        self._info = AsyncServiceInfo(
            ESPHOME_SERVICE_TYPE,
            f"{name}.{ESPHOME_SERVICE_TYPE}",
            addresses=[socket.inet_aton(address)],
            port=port,
            properties=dict(properties),
            server=f"{name}.local.",
        )
        self._interfaces = list(interfaces) if interfaces else [address]
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        """Register the service (probing for name conflicts first, as the firmware does)."""
        self._zc = AsyncZeroconf(interfaces=self._interfaces, ip_version=IPVersion.V4Only)
        await self._zc.async_register_service(self._info, allow_name_change=True)

    async def stop(self) -> None:
        """Send goodbyes and close."""
        if self._zc is None:
            return
        zc, self._zc = self._zc, None
        await zc.async_unregister_all_services()
        await zc.async_close()
