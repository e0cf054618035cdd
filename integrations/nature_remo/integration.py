"""Nature Remo devices as local IR blasters (no cloud account), and the IR devices they drive.

Config section ``[integrations.nature_remo]``::

    hosts = ["192.168.1.50", {host = "192.168.1.51", name = "Remo-1ABCDE"}]  # known addresses
    adopt = "ask"          # Remos announced over mDNS (_remo._tcp): "ask" offers them for
                           # adoption (GET /api/v1/discovered), "auto" adds them at once
    timeout = 5.0          # seconds per HTTP request
    retries = 4            # busy (503) and rate-limited (429) answers are retried with backoff
    poll_interval = 60.0   # seconds between reachability checks (offline Remos come back)
    store_path = "..."     # learned codes, assumed state; default <data dir>/integrations/...
    profile_dirs = ["/var/lib/homehub/ir_profiles"]
    [[integrations.nature_remo.devices]]
    name = "Living room TV"
    blaster = "Remo-1ABCDE"   # the Remo's mDNS name, its host, or its hub device id
    profile = "samsung_tv"    # a code set name or an inline table

A Remo is keyed by its mDNS instance name (its local API has no identity of its own), or by
its address when it is configured by host alone. IR devices, code sets, the learning wizard
and voice work as with Broadlink and ESPHome blasters: they go through `IrDevices`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hub.model import (
    IR_LEARN,
    IR_SEND,
    DeviceDescription,
    DiscoveredDevice,
    HubPort,
    Integration,
    make_device_id,
)
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError
from integrations.ir_devices import IrDeviceConfig, IrDevices
from integrations.nature_remo.client import ProgressCallback, RemoClient
from integrations.nature_remo.config import DOMAIN, RemoAddress, Settings
from integrations.nature_remo.signal import packet_from_signal, signal_for

_LOG = logging.getLogger(__name__)
READY_TIMEOUT_S = 30.0


def remo_device_id(name_or_host: str) -> str:
    """Hub device id of a Remo: ``nature_remo-remo-1abcde`` (or from its host)."""
    return make_device_id(DOMAIN, name_or_host.lower())


@dataclass
class _Remo:
    """One Remo the hub drives."""

    device_id: str
    client: RemoClient
    online: bool | None = None  # None: not checked yet

    def answers_to(self, ref: str) -> bool:
        """Whether an IR device's `blaster` reference names this Remo."""
        ref = ref.strip().lower()
        c = self.client
        names = {self.device_id, c.host.lower(), f"{c.host}:{c.port}".lower()}
        if c.name:
            names |= {c.name.lower(), f"{c.name.lower()}.local"}
        return ref in names


class _RemoBlaster:
    """A Remo as the `Blaster` of IR devices; no answer marks it (and them) offline."""

    def __init__(self, integration: NatureRemoIntegration, remo: _Remo) -> None:
        self._integration = integration
        self._remo = remo

    async def send(self, code: bytes) -> None:
        """Transmit one Broadlink code packet as a Remo signal."""
        try:
            await self._remo.client.send(signal_for(code))
        except DeviceUnreachable as err:
            await self._integration._mark(self._remo, False, str(err))
            raise


class NatureRemoIntegration(Integration):
    """Nature Remo blasters over their local HTTP API."""

    domain: ClassVar[str] = DOMAIN

    def __init__(self) -> None:
        self._hub: HubPort | None = None
        self._settings = Settings()
        self._remos: dict[str, _Remo] = {}  # by hub device id
        self._stored: dict[str, RemoAddress] = {}  # adopted before a restart
        self._ir = IrDevices(DOMAIN, self._ir_blaster, self._ir_availability)
        self._poll_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()  # set once setup() has read the config

    # --- lifecycle ----------------------------------------------------------------------------

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Read the config, register the IR devices and start checking the Remos."""
        self._hub = hub
        self._settings = Settings.from_config(config)
        for desc in hub.stored_devices(DOMAIN):
            host = desc.extra.get("host")
            if host:  # a Remo (IR devices carry no host)
                self._stored[desc.id] = RemoAddress(
                    str(host), int(desc.extra.get("port", 80)), desc.extra.get("instance")
                )
        store = self._settings.store_path or hub.storage_dir(DOMAIN) / "ir_devices.json"
        await self._ir.setup(hub, self._settings.devices, store, self._settings.profile_dirs)
        self._poll_task = asyncio.create_task(self._poll_loop(), name="nature-remo-poll")
        self._ready.set()

    async def discover(self) -> None:
        """Add the configured and the stored Remos (mDNS finds arrive through `follow`)."""
        for address in dict.fromkeys((*self._settings.hosts, *self._stored.values())):
            if self._find(address.name) or self._find_host(address.host, address.port):
                continue
            await self._add(address)

    async def shutdown(self) -> None:
        """Stop checking and close the HTTP connections."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None
        for remo in self._remos.values():
            await remo.client.close()

    # --- discovery and adoption ---------------------------------------------------------------

    async def follow(self, found: DiscoveredDevice) -> bool:
        """An mDNS announcement: a Remo we drive (maybe at a new address), one stored before a
        restart, one an IR device names, or any with ``adopt = "auto"``; else False."""
        # The hub browses mDNS before its integrations are set up: an early announcement must
        # wait for the config that says whether the Remo is wanted.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(READY_TIMEOUT_S):
                await self._ready.wait()
        name = str(found.properties.get("instance") or found.name)
        port = found.port or 80
        remo = self._find(name) or self._find_host(found.address, port)
        if remo is not None:
            await self._moved(remo, found.address, port, name)
            return True
        wanted = (
            self._settings.adopt == "auto"
            or remo_device_id(name) in self._stored
            or any(_names(dev.config.blaster, name) for dev in self._ir)
        )
        if not wanted:
            return False
        await self._add(RemoAddress(found.address, port, name))
        return True

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Add a Remo found over mDNS once it answers; it comes back by itself after a restart."""
        name = str(found.properties.get("instance") or found.name)
        address = RemoAddress(found.address, found.port or 80, name)
        probe = self._client(address)
        try:
            await probe.last_received()
        finally:
            await probe.close()
        remo = self._find(name) or await self._add(address)
        self._stored[remo.device_id] = address

    # --- hub calls ----------------------------------------------------------------------------

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send the IR frame(s) for desired values of an IR device (assumed state)."""
        if device_id not in self._ir:
            raise CommandFailed(f"{device_id} has no writable properties (it is a blaster)")
        await self._ir.apply_desired(device_id, changes)

    async def send_command(
        self, device_id: str, command: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Send one named IR code of an IR device."""
        if device_id not in self._ir:
            raise CommandFailed(f"{device_id} is a blaster; send commands to its IR devices")
        await self._ir.send_command(device_id, command, params)

    async def remove(self, device_id: str) -> None:
        """Forget a device the user removed."""
        self._ir.remove(device_id)
        self._stored.pop(device_id, None)
        remo = self._remos.pop(device_id, None)
        if remo is not None:
            await remo.client.close()

    # --- learning (hub.model.IrLearner) -------------------------------------------------------

    async def learn(
        self, blaster_id: str, timeout_s: float = 30.0, progress: ProgressCallback | None = None
    ) -> bytes:
        """Wait for the next signal a Remo hears; it comes back as a Broadlink IR packet.

        `blaster_id` is the Remo's hub id, mDNS name or host, or an IR device it drives.
        """
        if blaster_id in self._ir:
            blaster_id = self._ir.get(blaster_id).config.blaster
        remo = self._remo(blaster_id)
        try:
            signal = await remo.client.learn(timeout_s, progress)
        except DeviceUnreachable as err:
            await self._mark(remo, False, str(err))
            raise
        return packet_from_signal(signal)

    async def save_learned(self, device_id: str, command: str, code: bytes) -> None:
        """Add (or replace) a named code on an IR device; kept in the IR store."""
        await self._ir.save_learned(device_id, command, code)

    async def export_profile(
        self, device_id: str, name: str, directory: str | Path | None = None
    ) -> Path:
        """Save an IR device's codes as a code set named `name` (other IR devices can use it)."""
        self._ir.get(device_id)
        folder = Path(directory) if directory else next(iter(self._settings.profile_dirs), None)
        if folder is None:
            raise CommandFailed(
                f"no directory for your IR profiles: set profile_dirs in [integrations.{DOMAIN}]"
            )
        return await self._ir.export_profile(device_id, name, folder)

    def ir_commands(self, device_id: str) -> dict[str, bytes]:
        """The named codes (Broadlink packets) of an IR device."""
        return dict(self._ir.get(device_id).profile.commands)

    @property
    def remos(self) -> dict[str, RemoClient]:
        """The Remos driven, by hub device id."""
        return {dev_id: remo.client for dev_id, remo in self._remos.items()}

    # --- internals ----------------------------------------------------------------------------

    def _client(self, address: RemoAddress) -> RemoClient:
        s = self._settings
        return RemoClient(address.host, address.port, name=address.name, timeout=s.timeout,
                          retries=s.retries)

    def _find(self, name: str | None) -> _Remo | None:
        if not name:
            return None
        return self._remos.get(remo_device_id(name)) or next(
            (r for r in self._remos.values() if r.client.name and _names(r.client.name, name)),
            None,
        )

    def _find_host(self, host: str, port: int) -> _Remo | None:
        return next(
            (r for r in self._remos.values() if (r.client.host, r.client.port) == (host, port)),
            None,
        )

    def _remo(self, ref: str) -> _Remo:
        for remo in self._remos.values():
            if remo.answers_to(ref):
                return remo
        known = ", ".join(sorted(self._remos)) or "none yet"
        raise CommandFailed(f"{ref} is not a Nature Remo this hub knows (known: {known})")

    async def _add(self, address: RemoAddress) -> _Remo:
        async with self._lock:
            dev_id = remo_device_id(address.name or address.host)
            if dev_id in self._remos:
                return self._remos[dev_id]
            remo = _Remo(dev_id, self._client(address))
            self._remos[dev_id] = remo
            await self._describe(remo)
        await self._check(remo)
        return remo

    async def _describe(self, remo: _Remo) -> None:
        assert self._hub is not None, "setup() first"
        c = remo.client
        extra: dict[str, Any] = {"host": c.host, "port": c.port}
        if c.name:
            extra["instance"] = c.name
        await self._hub.add_device(
            DeviceDescription(
                id=remo.device_id,
                integration=DOMAIN,
                name=c.name or f"Nature Remo ({c.host})",
                model="Nature Remo (local API)",
                properties={},
                manufacturer="Nature",
                address=c.host,
                capabilities=(IR_SEND, IR_LEARN),
                extra=extra,
            )
        )

    async def _moved(self, remo: _Remo, host: str, port: int, name: str) -> None:
        c = remo.client
        if (c.host, c.port) == (host, port) and c.name:
            return
        _LOG.info("Nature Remo %s is now at %s:%d", c.name or c.host, host, port)
        c.moved(host, port)
        c.name = c.name or name
        if remo.device_id in self._stored:
            self._stored[remo.device_id] = RemoAddress(host, port, c.name)
        await self._describe(remo)
        await self._check(remo)

    async def _check(self, remo: _Remo) -> None:
        """Ask the Remo something harmless; its answer (or not) is its availability."""
        try:
            status = await remo.client.probe()
        except DeviceUnreachable as err:
            await self._mark(remo, False, str(err))
        else:  # any answer, even a busy or odd one, means it is there
            if status != 200:
                _LOG.info("%s answered the reachability check with HTTP %d", remo.client.label,
                          status)
            await self._mark(remo, True)

    async def _mark(self, remo: _Remo, online: bool, reason: str = "") -> None:
        if self._hub is None or remo.online is online:
            return
        remo.online = online
        if not online:
            _LOG.warning("%s", reason)
        await self._hub.set_available(remo.device_id, online, reason)
        await self._ir.set_available(lambda cfg: remo.answers_to(cfg.blaster), online, reason)

    def _ir_blaster(self, cfg: IrDeviceConfig) -> _RemoBlaster:
        try:
            return _RemoBlaster(self, self._remo(cfg.blaster))
        except CommandFailed:
            raise DeviceUnreachable(
                f"the Nature Remo {cfg.blaster} of {cfg.name} has not been found yet; check "
                f"that it is powered, or list it in hosts under [integrations.{DOMAIN}]"
            ) from None

    def _ir_availability(self, cfg: IrDeviceConfig) -> tuple[bool, str]:
        for remo in self._remos.values():
            if remo.answers_to(cfg.blaster):
                return bool(remo.online), "" if remo.online else f"{remo.client.label} is offline"
        return False, f"the Nature Remo {cfg.blaster} has not been found yet"

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.poll_interval)
            try:
                await self.discover()  # configured Remos that could not be added yet
                for remo in list(self._remos.values()):
                    await self._check(remo)
            except IntegrationError as err:
                _LOG.warning("Nature Remo check failed, will retry: %s", err)
            except Exception:  # one bad cycle must not end reachability checks for good
                _LOG.exception("Nature Remo check cycle failed; retrying next interval")


def _names(ref: str, name: str) -> bool:
    ref, name = ref.strip().lower(), name.strip().lower()
    return ref in (name, f"{name}.local", remo_device_id(name))
