"""Announce a service over mDNS (the hub: `_homehub._tcp.local.` for the TUI)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence

import ifaddr
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from hub.discovery.converters import HOMEHUB_SERVICE_TYPE


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (loopback alone if there are none)."""
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return found or ["127.0.0.1"]


def _info(
    service_type: str,
    name: str,
    port: int,
    properties: Mapping[str, str],
    addresses: Sequence[str],
    server: str | None,
) -> AsyncServiceInfo:
    return AsyncServiceInfo(
        service_type,
        f"{name}.{service_type}",
        addresses=[socket.inet_aton(a) for a in addresses],
        port=port,
        properties=dict(properties),
        server=server or f"{name}.local.",
    )


class Advertisement:
    """A registered service; update() re-announces it, close() says goodbye."""

    def __init__(self, zc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        self._zc = zc
        self.info = info

    @property
    def name(self) -> str:
        """The full service name (zeroconf may have renamed it to avoid a conflict)."""
        return str(self.info.name)

    async def update(
        self,
        *,
        port: int | None = None,
        properties: Mapping[str, str] | None = None,
        addresses: Sequence[str] | None = None,
    ) -> None:
        """Re-announce with a new port, TXT or address (browsers see an update)."""
        old = self.info
        new = AsyncServiceInfo(
            old.type,
            old.name,
            addresses=(
                [socket.inet_aton(a) for a in addresses] if addresses is not None else old.addresses
            ),
            port=port if port is not None else old.port,
            properties=dict(properties) if properties is not None else old.properties,
            server=old.server,
        )
        await self._zc.async_update_service(new)
        self.info = new

    async def close(self) -> None:
        """Withdraw the service (sends goodbye packets)."""
        # The call returns another awaitable that finishes once the goodbyes are on the wire;
        # closing zeroconf before that would swallow them.
        sent = await self._zc.async_unregister_service(self.info)
        await sent


async def advertise(
    zc: AsyncZeroconf,
    name: str,
    port: int,
    properties: Mapping[str, str],
    *,
    service_type: str = HOMEHUB_SERVICE_TYPE,
    addresses: Sequence[str] | None = None,
    server: str | None = None,
) -> Advertisement:
    """Register `<name>.<service_type>` on `zc`; a taken name is changed (`name (2)`)."""
    if not addresses:
        addresses = await asyncio.to_thread(lan_addresses)  # reads the interface list
    info = _info(service_type, name, port, properties, addresses, server)
    await zc.async_register_service(info, allow_name_change=True)
    return Advertisement(zc, info)
