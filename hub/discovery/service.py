"""The hub's mDNS discovery: browse service types, resolve them, report what is found.

async def found(dev: DiscoveredDevice) -> None: ...
discovery = DiscoveryService(found, on_removed=gone)
await discovery.start()     # on_found fires for new devices and for changed ones
...                         # (a new address or TXT), on_removed when one says goodbye
await discovery.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from hub.discovery.converters import DEFAULT_CONVERTERS, Converter, FoundService
from hub.model import DiscoveredDevice

_LOGGER = logging.getLogger(__name__)

OnFound = Callable[[DiscoveredDevice], Awaitable[None]]


class DiscoveryService:
    """Browses mDNS service types and hands DiscoveredDevice values to callbacks."""

    def __init__(
        self,
        on_found: OnFound,
        on_removed: OnFound | None = None,
        *,
        interfaces: Sequence[str] | None = None,
        zeroconf: AsyncZeroconf | None = None,
        converters: Mapping[str, Converter] | None = None,
        resolve_timeout: float = 3.0,
    ) -> None:
        self._on_found = on_found
        self._on_removed = on_removed
        self._interfaces = list(interfaces) if interfaces else None
        self._zc = zeroconf
        self._owns_zc = zeroconf is None
        self._converters = dict(converters or DEFAULT_CONVERTERS)
        self._resolve_ms = int(resolve_timeout * 1000)
        self._browser: AsyncServiceBrowser | None = None
        self._found: dict[tuple[str, str], DiscoveredDevice] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # one resolve at a time per service, so an older answer never overwrites a newer one
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @property
    def zeroconf(self) -> AsyncZeroconf:
        """The zeroconf instance (share it to advertise the hub itself); start() first."""
        if self._zc is None:
            raise RuntimeError("DiscoveryService.start() has not run")
        return self._zc

    @property
    def found(self) -> Mapping[str, DiscoveredDevice]:
        """What is on the network now, by DiscoveredDevice.key."""
        return {dev.key: dev for dev in self._found.values()}

    @property
    def service_types(self) -> tuple[str, ...]:
        """The mDNS types browsed."""
        return tuple(self._converters)

    async def start(self) -> None:
        """Open zeroconf (unless one was given) and start browsing."""
        if self._browser is not None:
            return
        if self._zc is None:
            self._zc = AsyncZeroconf(
                interfaces=self._interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only
            )
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, list(self._converters), handlers=[self._on_change]
        )

    async def stop(self) -> None:
        """Stop browsing; close zeroconf if this service opened it."""
        if self._browser is not None:
            browser, self._browser = self._browser, None
            await browser.async_cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_zc and self._zc is not None:
            zc, self._zc = self._zc, None
            await zc.async_close()

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            self._spawn(self._removed(service_type, name))
        else:  # Added or Updated (TXT, SRV or an address record changed)
            self._spawn(self._resolve(service_type, name))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        ident = (service_type, name)
        lock = self._locks.setdefault(ident, asyncio.Lock())
        async with lock:
            if self._zc is None:
                return
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(self._zc.zeroconf, self._resolve_ms):
                _LOGGER.debug("no answer resolving %s", name)
                return
            found = FoundService(
                type=service_type,
                name=name,
                addresses=info.parsed_addresses(IPVersion.V4Only),
                port=info.port or 0,
                properties={k: v or "" for k, v in info.decoded_properties.items()},
                server=info.server or "",
            )
            try:
                device = self._converters[service_type](found)
            except (ValueError, KeyError, TypeError) as err:  # a peer's odd TXT is not our crash
                _LOGGER.info("ignoring %s: %s", name, err)
                return
            if device is None or self._found.get(ident) == device:
                return
            self._found[ident] = device
            await self._call(self._on_found, device)

    async def _removed(self, service_type: str, name: str) -> None:
        device = self._found.pop((service_type, name), None)
        self._locks.pop((service_type, name), None)
        if device is not None and self._on_removed is not None:
            await self._call(self._on_removed, device)

    async def _call(self, callback: OnFound, device: DiscoveredDevice) -> None:
        try:
            await callback(device)
        except Exception:  # the browser must outlive a failing subscriber
            _LOGGER.exception("discovery callback failed for %s", device.key)
