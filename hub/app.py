"""The hub process: wires store, registry, integrations, API and components together."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from hub import __version__
from hub.api.handlers import build_router
from hub.api.http import build_app
from hub.api.router import Router
from hub.auth import Auth
from hub.clock import Clock, SystemClock
from hub.config import HubConfig
from hub.core.history import HistoryRecorder
from hub.core.ir_learning import IrLearning
from hub.core.presence import Presence
from hub.core.registry import DeviceRegistry
from hub.errors import ConfigError
from hub.events import EventBus
from hub.model import Integration
from hub.store import Database

_LOG = logging.getLogger(__name__)

#: Integrations the config can enable by section name: [integrations.<name>].
KNOWN_INTEGRATIONS = {
    "virtual": "integrations.virtual.integration:VirtualIntegration",
    "echonet": "integrations.echonet.integration:EchonetIntegration",
    "broadlink": "integrations.broadlink.integration:BroadlinkIntegration",
    "esphome": "integrations.esphome.integration:EsphomeIntegration",
}


class HubComponent(Protocol):
    """A part of the hub with a lifecycle and optional endpoints (rules, relay link ...).

    A component may also define `async def announce(hub)`, called once the API has its port.
    """

    async def start(self, hub: Hub) -> None:
        """Called after the store and registry are loaded, before the API serves."""

    async def stop(self) -> None:
        """Called on shutdown, before the store closes."""

    def register_routes(self, router: Router) -> None:
        """Add endpoints to the API."""


def load_integration(name: str) -> Integration:
    """Instantiate an integration by its config section name."""
    target = KNOWN_INTEGRATIONS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown integration [integrations.{name}]; known: {', '.join(KNOWN_INTEGRATIONS)}"
        )
    module_name, _, cls_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"integration {name} is not available in this install: {err}") from err
    integration: Integration = cls()
    return integration


class Hub:
    """One running hub."""

    def __init__(
        self,
        config: HubConfig,
        integrations: Sequence[Integration] | None = None,
        clock: Clock | None = None,
        components: Sequence[HubComponent] = (),
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.bus = EventBus()
        self.db = Database(config.db_path)
        self.registry = DeviceRegistry(self.db, self.bus, self.clock, config.data_dir)
        self.auth = Auth(self.db, self.clock)
        self.presence = Presence(self.db, self.bus, self.clock)
        self.ir_learning = IrLearning(self.registry)
        self.history = HistoryRecorder(
            self.db,
            self.bus,
            self.clock,
            raw_days=config.history_raw_days,
            rollup_days=config.history_rollup_days,
            bucket_s=config.history_bucket_s,
        )
        if integrations is None:
            integrations = [load_integration(name) for name in config.integrations]
        self._integrations = list(integrations)
        self.components: list[HubComponent] = list(components)
        self.route_extensions: list[Callable[[Router], None]] = []
        self.hub_id = ""
        self.started_monotonic = time.monotonic()
        self.router: Router
        self._runner: web.AppRunner | None = None
        self._setup_tasks: list[asyncio.Task[None]] = []
        self._token_refresh: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL of the API (the bound port, so port 0 in tests resolves)."""
        host = self.config.api_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Open the store, start integrations in the background and serve the API."""
        self.started_monotonic = time.monotonic()
        await self.db.open()
        self.hub_id = await self.db.get_kv("hub_id") or ""
        if not self.hub_id:
            self.hub_id = "hub_" + secrets.token_hex(8)
            await self.db.set_kv("hub_id", self.hub_id)
        await self.registry.load()
        await self.auth.load()
        self._token_refresh = asyncio.create_task(self.auth.refresh_forever(), name="tokens")
        await self.presence.load()
        await self.history.start()
        for component in self.components:
            await component.start(self)
            self.route_extensions.append(component.register_routes)
        self.router = build_router(self)
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.api_host, self.config.api_port)
        await site.start()
        self.port = self.config.api_port
        for address in self._runner.addresses:
            self.port = int(address[1])
            break
        for component in self.components:
            announce = getattr(component, "announce", None)
            if announce is not None:  # components that need the bound port (mDNS)
                await announce(self)
        for integ in self._integrations:
            self.registry.integrations[integ.domain] = integ
            self._setup_tasks.append(
                asyncio.create_task(self._setup_integration(integ), name=f"setup-{integ.domain}")
            )
        _LOG.info("homehub %s (%s) serving %s/api/v1", __version__, self.hub_id, self.url)

    async def _setup_integration(self, integ: Integration) -> None:
        section = self.config.integrations.get(integ.domain, {})
        try:
            await integ.setup(self.registry, section)
            await integ.discover()
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOG.exception(
                "integration %s failed to start; check [integrations.%s] in the config",
                integ.domain,
                integ.domain,
            )

    async def wait_integrations(self) -> None:
        """Wait until every integration finished setting up (tests, demo)."""
        await asyncio.gather(*self._setup_tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop serving, stop integrations and components, write what is pending, close."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in (*self._setup_tasks, self._token_refresh):
            if task is not None:
                task.cancel()
        for integ in self._integrations:
            try:
                await integ.shutdown()
            except Exception:
                _LOG.exception("integration %s failed to shut down", integ.domain)
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                _LOG.exception("component %r failed to stop", component)
        await self.ir_learning.close()
        await self.history.stop()
        await self.registry.close()
        await self.db.close()


async def run_hub(config: HubConfig, on_ready: Callable[[Hub], Any] | None = None) -> None:
    """Run a hub until cancelled or SIGINT/SIGTERM."""
    from hub.clock import clock_from_env
    from hub.components import default_components

    hub = Hub(config, clock=clock_from_env(), components=default_components(config))
    await hub.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if on_ready is not None:
            result = on_ready(hub)
            if asyncio.iscoroutine(result):
                await result
        await stop.wait()
    finally:
        await hub.stop()
