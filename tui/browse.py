"""Find hubs on the LAN: browse `_homehub._tcp.local.` over mDNS with zeroconf.

async with HubBrowser() as browser:
    hubs = await browser.wait_for_hubs(timeout=3)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from types import TracebackType

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from tui.models import FoundHub

_LOG = logging.getLogger(__name__)

SERVICE_TYPE = "_homehub._tcp.local."


def hub_from_service(
    name: str, addresses: Sequence[str], port: int, txt: dict[str, str]
) -> FoundHub | None:
    """A FoundHub from a resolved service (TXT: id, name, api); None without an address."""
    if not addresses or not port:
        return None
    host = addresses[0]
    if ipaddress.ip_address(host).version == 6:
        host = f"[{host}]"
    instance = name[: -len("." + SERVICE_TYPE)] if name.endswith("." + SERVICE_TYPE) else name
    return FoundHub(
        name=txt.get("name") or instance,
        url=f"http://{host}:{port}",
        hub_id=txt.get("id") or txt.get("hub_id") or "",
        api_version=txt.get("api") or txt.get("api_version") or txt.get("version") or "",
    )


class HubBrowser:
    """Keeps a live list of announced hubs; `changed` is called when it changes."""

    def __init__(
        self,
        interfaces: Sequence[str] | None = None,
        *,
        resolve_timeout: float = 3.0,
        changed: Callable[[], None] | None = None,
    ) -> None:
        self._interfaces = list(interfaces) if interfaces else None
        self._resolve_ms = int(resolve_timeout * 1000)
        self.changed = changed
        self.hubs: dict[str, FoundHub] = {}
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._found = asyncio.Event()

    async def start(self) -> None:
        """Open zeroconf and start browsing."""
        if self._zc is not None:
            return
        self._zc = AsyncZeroconf(
            interfaces=self._interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only
        )
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change]
        )

    async def stop(self) -> None:
        """Stop browsing and close zeroconf."""
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._zc is not None:
            await self._zc.async_close()
            self._zc = None

    async def __aenter__(self) -> HubBrowser:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_for_hubs(self, timeout: float) -> list[FoundHub]:
        """The hubs found within `timeout` seconds (returns as soon as one is found)."""
        if not self.hubs:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._found.wait()
        return sorted(self.hubs.values(), key=lambda h: h.name)

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            if self.hubs.pop(name, None) is not None:
                self._notify()
            return
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        if self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, self._resolve_ms):
            _LOG.info("hub %s announced itself but did not resolve", name)
            return
        txt = {k: v or "" for k, v in info.decoded_properties.items()}
        try:
            hub = hub_from_service(name, info.parsed_addresses(), info.port or 0, txt)
        except ValueError as err:  # a peer's odd address is not our crash
            _LOG.info("ignoring hub %s: %s", name, err)
            return
        if hub is not None and self.hubs.get(name) != hub:
            self.hubs[name] = hub
            self._notify()

    def _notify(self) -> None:
        if self.hubs:
            self._found.set()
        if self.changed is not None:
            self.changed()
