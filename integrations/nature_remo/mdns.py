"""A Remo's mDNS announcement: ``Remo-1ABCDE._remo._tcp.local.`` on port 80, host
``Remo-1ABCDE.local.``. The instance name is how a Remo is told apart (its local API has no
identity endpoint), so the hub keys Remos by it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

REMO_SERVICE_TYPE = "_remo._tcp.local."


def _lan_addresses() -> list[str]:
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return found or ["127.0.0.1"]


class RemoAdvertisement:
    """One `<instance>._remo._tcp.local.` registration on its own zeroconf instance."""

    def __init__(
        self, instance: str, address: str, port: int, interfaces: Sequence[str] | None = None
    ) -> None:
        self._instance = instance
        self._address = address
        self._port = port
        self._interfaces = list(interfaces) if interfaces else None
        self._zc: AsyncZeroconf | None = None

    async def start(self) -> None:
        """Register the service (probing for a name conflict first)."""
        wildcard = self._address in ("", "0.0.0.0")
        addresses = await asyncio.to_thread(_lan_addresses) if wildcard else [self._address]
        info = AsyncServiceInfo(
            REMO_SERVICE_TYPE,
            f"{self._instance}.{REMO_SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in addresses],
            port=self._port,
            properties={},
            server=f"{self._instance}.local.",
        )
        interfaces = self._interfaces or (InterfaceChoice.All if wildcard else [self._address])
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        await self._zc.async_register_service(info)

    async def stop(self) -> None:
        """Send goodbyes and close."""
        if self._zc is None:
            return
        zc, self._zc = self._zc, None
        await zc.async_unregister_all_services()
        await zc.async_close()
