"""The hub process: wires store, registry, integrations, API and components together."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from hub import __version__, long_lived
from hub.api.handlers import build_router
from hub.api.http import build_app
from hub.api.limits import (
    ConnectionGuard,
    GuardedSite,
    connection_budget,
    quiet_accept_errors,
    raise_open_file_limit,
)
from hub.api.router import Router
from hub.auth import Auth
from hub.clock import Clock, SystemClock
from hub.config import KNOWN_INTEGRATIONS, HubConfig, did_you_mean
from hub.core.history import HistoryRecorder
from hub.core.ir_learning import IrLearning
from hub.core.notifications import Inbox
from hub.core.presence import Presence
from hub.core.registry import DeviceRegistry
from hub.errors import CannotListen, ConfigError
from hub.events import EventBus
from hub.metrics import hub_metrics
from hub.model import Integration, IntegrationError
from hub.netaddr import WILDCARD_HOSTS, bind_listener, lan_address
from hub.store import Database
from hub.store.lock import DataDirLock
from relay import logjson
from relay.private_files import make_private

_LOG = logging.getLogger(__name__)

SETTLE_AFTER_START_S = 2.0


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
            f"unknown integration [integrations.{name}]{did_you_mean(name, KNOWN_INTEGRATIONS)} "
            f"(known: {', '.join(KNOWN_INTEGRATIONS)})"
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
        settle_gc: bool = False,
    ) -> None:
        # The daemon (run_hub) keeps the garbage collector off state loaded in bulk; see
        # hub/long_lived.py for why, and why a hub in a test process does not.
        self.settle_gc = settle_gc
        self.config = config
        self.clock = clock or SystemClock()
        self.bus = EventBus()
        self.db = Database(config.db_path)
        self.registry = DeviceRegistry(self.db, self.bus, self.clock, config.data_dir)
        self.auth = Auth(self.db, self.clock)
        self.presence = Presence(self.db, self.bus, self.clock)
        self.notifications = Inbox(self.db, self.bus, self.clock)
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
        self.connections: ConnectionGuard | None = None  # set when serving
        #: Integrations that did not start, and why (GET /health names them).
        self.integration_problems: dict[str, str] = {}
        self.metrics = hub_metrics(self)
        self._setup_tasks: list[asyncio.Task[None]] = []
        self._token_refresh: asyncio.Task[None] | None = None
        self._settle_later: asyncio.TimerHandle | None = None
        self.port = 0
        self.lock = DataDirLock(config.data_dir)
        #: Set to stop and start again with the same config (a restore waits to be applied).
        self.restart_requested = asyncio.Event()

    def request_restart(self) -> None:
        """Ask `run_hub` to stop this hub and start a new one (applies a staged restore)."""
        _LOG.info("hub restart requested")
        self.restart_requested.set()

    @property
    def url(self) -> str:
        """Base URL of the API (the bound port, so port 0 in tests resolves)."""
        host = self.config.api_host
        if host in WILDCARD_HOSTS:
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def lan_url(self) -> str:
        """The URL a phone or the TUI on the LAN would use (loopback when there is no LAN)."""
        host = self.config.api_host
        if host in WILDCARD_HOSTS:
            host = lan_address() or "127.0.0.1"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Open the store, start integrations in the background and serve the API."""
        self.started_monotonic = time.monotonic()
        await asyncio.to_thread(make_private, self.config.data_dir)
        await asyncio.to_thread(self.lock.acquire)
        try:
            # Bind first: a taken port must stop the start before the database is open.
            listener = bind_listener(self.config.api_host, self.config.api_port)
        except OSError as err:
            self.lock.release()
            raise CannotListen(str(err.strerror or err)) from None
        try:
            await self._apply_restore()
            await self.db.open()
        except BaseException:
            listener.close()
            self.lock.release()
            raise
        try:
            await self._start_serving(listener)
        except BaseException:
            # Half started: close what did start (the database thread would keep the process).
            listener.close()
            await self.stop()
            raise

    async def _start_serving(self, listener: socket.socket) -> None:
        self.hub_id = await self.db.get_kv("hub_id") or ""
        if not self.hub_id:
            self.hub_id = "hub_" + secrets.token_hex(8)
            await self.db.set_kv("hub_id", self.hub_id)
        await self.registry.load()
        await self.auth.load()
        self._token_refresh = asyncio.create_task(self.auth.refresh_forever(), name="tokens")
        await self.presence.load()
        await self.history.start()
        # Known before components start: mDNS finds that arrive at once must reach
        # Integration.follow (the integration waits for its own set-up), not the adoption list.
        for integ in self._integrations:
            self.registry.integrations[integ.domain] = integ
        for component in self.components:
            await component.start(self)
            self.route_extensions.append(component.register_routes)
        self.router = build_router(self)
        self._runner = web.AppRunner(
            build_app(self),
            access_log=None,
            shutdown_timeout=2.0,
            keepalive_timeout=max(15.0, self.config.header_timeout_s),
        )
        await self._runner.setup()
        self.connections = ConnectionGuard(
            self.config.max_connections or connection_budget(raise_open_file_limit()),
            self.config.header_timeout_s,
        )
        quiet_accept_errors(asyncio.get_running_loop())
        site = GuardedSite(self._runner, self.connections, listener)
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
            self._setup_tasks.append(
                asyncio.create_task(self._setup_integration(integ), name=f"setup-{integ.domain}")
            )
        logjson.process_fields["hub_id"] = self.hub_id  # on every JSON log line
        # Once the start's burst (integrations setting up, first requests) is over.
        self._settle_later = asyncio.get_running_loop().call_later(
            SETTLE_AFTER_START_S, self.settle_long_lived
        )
        _LOG.info("homehub %s (%s) serving %s/api/v1", __version__, self.hub_id, self.url)

    def settle_long_lived(self) -> None:
        """State just loaded in bulk stays: keep the garbage collector off it (daemon only)."""
        if self.settle_gc:
            long_lived.settle()

    async def _apply_restore(self) -> None:
        from hub.backup.restore import apply_pending_restore

        summary = await asyncio.to_thread(apply_pending_restore, self.config.data_dir)
        if summary is not None:
            restored = summary["restored"]
            _LOG.info(
                "restored backup %s (made %s by hub %s); the previous data is in %s",
                restored["id"],
                time.strftime("%Y-%m-%d %H:%M", time.localtime(restored["created"])),
                restored["hub_id"],
                summary["previous_data"],
            )
            for path in summary["external_conflicts"]:
                _LOG.warning("restore: kept the existing %s (it differs from the backup's)", path)

    async def _setup_integration(self, integ: Integration) -> None:
        section = self.config.integrations.get(integ.domain, {})
        try:
            await integ.setup(self.registry, section)
            await integ.discover()
        except asyncio.CancelledError:
            raise
        except IntegrationError as err:  # a config mistake: the message says it all
            _LOG.error("integration %s did not start: %s", integ.domain, err)
            self.integration_problems[integ.domain] = f"did not start: {err}"
        except Exception as err:
            self.integration_problems[integ.domain] = (
                f"failed to start ({type(err).__name__}); the hub's log says why"
            )
            _LOG.exception(
                "integration %s failed to start; check [integrations.%s] in the config",
                integ.domain,
                integ.domain,
            )

    async def problems(self) -> list[dict[str, str]]:
        """What is degraded, each as {"part", "reason"} (GET /health; empty: all well).

        Counts and states only: /health needs no token, so no device names or addresses.
        """
        out = [
            {"part": f"integration:{domain}", "reason": reason}
            for domain, reason in sorted(self.integration_problems.items())
        ]
        devices = self.registry.devices.values()
        offline = sum(1 for rec in devices if not rec.online)
        if offline:
            out.append({"part": "devices", "reason": f"{offline} of {len(devices)} offline"})
        for component in self.components:
            status = getattr(component, "status", None)
            if callable(status) and hasattr(component, "relay_url"):
                link = status()
                if link.get("state") != "connected":
                    why = f": {link['last_error']}" if link.get("last_error") else ""
                    out.append({"part": "relay", "reason": f"link {link.get('state')}{why}"})
        guard = self.connections
        if guard is not None and len(guard) >= 0.9 * guard.max_connections:
            out.append({
                "part": "connections",
                "reason": f"{len(guard)} of {guard.max_connections} in use; the oldest idle "
                "ones are being cut",
            })  # fmt: skip
        try:
            async with asyncio.timeout(2.0):
                await self.db.fetchone("SELECT 1")
        except Exception as err:  # a locked, full or vanished database
            out.append({"part": "database", "reason": f"not answering: {err or 'timeout'}"})
        return out

    async def wait_integrations(self) -> None:
        """Wait until every integration finished setting up (tests, demo)."""
        await asyncio.gather(*self._setup_tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Stop serving, stop integrations and components, write what is pending, close."""
        if self._settle_later is not None:
            self._settle_later.cancel()
        if self.settle_gc:
            long_lived.release()
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
        self.lock.release()


async def run_hub(config: HubConfig, on_ready: Callable[[Hub], Any] | None = None) -> None:
    """Run a hub until cancelled or SIGINT/SIGTERM."""
    from hub.clock import clock_from_env
    from hub.components import default_components

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        hub = Hub(
            config,
            clock=clock_from_env(),
            components=default_components(config),
            settle_gc=True,
        )
        await hub.start()
        try:
            if on_ready is not None:
                result = on_ready(hub)
                if asyncio.iscoroutine(result):
                    await result
            stopping = asyncio.create_task(stop.wait())
            restarting = asyncio.create_task(hub.restart_requested.wait())
            await asyncio.wait({stopping, restarting}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stopping, restarting):
                task.cancel()
        finally:
            await hub.stop()
