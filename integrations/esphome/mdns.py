"""Announce an emulated ESPHome node over mDNS the way the firmware does."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
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


def _lan_addresses() -> list[str]:
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return found or ["127.0.0.1"]


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
        self._name = name
        self._address = address
        self._port = port
        self._properties = dict(properties)
        self._interfaces = list(interfaces) if interfaces else None
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        """Register the service (probing for name conflicts first, as the firmware does)."""
        wildcard = self._address in ("", "0.0.0.0")
        # bound to every interface: announce the machine's LAN addresses, not 0.0.0.0
        addresses = await asyncio.to_thread(_lan_addresses) if wildcard else [self._address]
        info = AsyncServiceInfo(
            ESPHOME_SERVICE_TYPE,
            f"{self._name}.{ESPHOME_SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self._port,
            properties=self._properties,
            server=f"{self._name}.local.",
        )
        interfaces = self._interfaces or (InterfaceChoice.All if wildcard else [self._address])
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        await self._zc.async_register_service(info, allow_name_change=True)

    async def stop(self) -> None:
        """Send goodbyes and close."""
        if self._zc is None:
            return
        zc, self._zc = self._zc, None
        await zc.async_unregister_all_services()
        await zc.async_close()
