"""The hub integration: Broadlink blasters, and IR devices made of a blaster plus a profile.

Config section ``[integrations.broadlink]``::

    hosts = ["192.168.1.30", "192.168.1.31:80"]  # blasters at known addresses
    discover_address = "255.255.255.255"         # probe target; unset: no probing
    discover_port = 80                           # where blasters listen (80 on real ones)
    discover_timeout = 2.0                       # seconds a probe listens for replies
    adopt = "ask"                                # blasters the probe finds: "ask" offers them
                                                 # for adoption (GET /api/v1/discovered),
                                                 # "auto" adds them at once
    timeout = 5.0                                # seconds per blaster request
    poll_interval = 60.0                         # sensors and reconnects
    store_path = "/var/lib/homehub/broadlink.json"  # learned codes, assumed state; default:
                                                    # <data dir>/integrations/broadlink/
    profile_dirs = ["/var/lib/homehub/ir_profiles"]  # your own code sets (YAML/JSON), by name
    [[integrations.broadlink.devices]]
    id = "living-tv"                             # optional; default from the name
    name = "Living room TV"
    room = "Living room"                         # optional suggested room
    blaster = "34:ea:34:aa:bb:cc"                # MAC or host of the blaster
    profile = "samsung_tv"                       # code set name or an inline table

Blasters in ``hosts``, blasters named by an IR device's ``blaster`` and blasters adopted before
a restart (the hub's stored devices) are always added without asking.

IR is one-way: after a send the integration reports what it sent as the device's state and the
device is described with ``assumed_state=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.model import (
    IR_LEARN,
    IR_SEND,
    DeviceDescription,
    DiscoveredDevice,
    HubPort,
    Integration,
    PropertySpec,
    make_device_id,
    spec_for,
)
from integrations.broadlink import packet as pk
from integrations.broadlink.client import BroadlinkClient, ProgressCallback
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError
from integrations.ir_devices import (
    DEFAULT_AC_STATE,
    IrDevice,
    IrDeviceConfig,
    IrDevices,
    parse_device_config,
)

_LOG = logging.getLogger(__name__)
DOMAIN = "broadlink"
__all__ = ["DEFAULT_AC_STATE", "BroadlinkIntegration", "IrDeviceConfig", "Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """The integration's config section, checked."""

    hosts: tuple[tuple[str, int], ...] = ()
    discover_address: str | None = None
    discover_port: int = pk.PORT
    discover_timeout: float = 2.0
    adopt: str = "ask"
    timeout: float = 5.0
    poll_interval: float = 60.0
    store_path: Path | None = None
    profile_dirs: tuple[Path, ...] = ()
    devices: tuple[IrDeviceConfig, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Parse the config section; raise IntegrationError naming the bad key."""
        try:
            hosts = tuple(_host_port(h) for h in config.get("hosts", ()))
            devices = tuple(_device_config(d) for d in config.get("devices", ()))
            store = config.get("store_path")
            adopt = str(config.get("adopt", "ask"))
            if adopt not in ("ask", "auto"):
                raise ValueError(f'adopt must be "ask" or "auto", not {adopt!r}')
            return cls(
                hosts=hosts,
                discover_address=config.get("discover_address"),
                discover_port=int(config.get("discover_port", pk.PORT)),
                discover_timeout=float(config.get("discover_timeout", 2.0)),
                adopt=adopt,
                timeout=float(config.get("timeout", 5.0)),
                poll_interval=float(config.get("poll_interval", 60.0)),
                store_path=Path(store) if store else None,
                profile_dirs=tuple(Path(d) for d in config.get("profile_dirs", ())),
                devices=devices,
            )
        except (TypeError, ValueError, KeyError) as err:
            raise IntegrationError(f"[integrations.broadlink] is not valid: {err}") from err


def _host_port(entry: Any) -> tuple[str, int]:
    if isinstance(entry, Mapping):
        return str(entry["host"]), int(entry.get("port", pk.PORT))
    host, _, port = str(entry).partition(":")
    return host, int(port) if port else pk.PORT


def _device_config(entry: Mapping[str, Any]) -> IrDeviceConfig:
    return parse_device_config(entry, DOMAIN)


def _same_blaster(ref: str, client: BroadlinkClient) -> bool:
    ref = ref.strip().lower()
    if ref in (client.info.host, blaster_device_id(client.info.mac)):
        return True
    try:
        return pk.parse_mac(ref) == pk.parse_mac(client.info.mac)
    except ValueError:
        return False


def blaster_device_id(mac: str) -> str:
    """Hub device id of a blaster: ``broadlink-<mac hex>``."""
    return make_device_id(DOMAIN, mac.replace(":", "").lower())


class _RmBlaster:
    """A connected RM as the `Blaster` of IR devices; a send that gets no answer marks it
    offline (with its IR devices) until the poll loop hears from it again."""

    def __init__(self, integration: BroadlinkIntegration, client: BroadlinkClient) -> None:
        self._integration = integration
        self._client = client

    async def send(self, code: bytes) -> None:
        """Transmit one Broadlink code packet."""
        try:
            await self._client.send(code)
        except DeviceUnreachable as err:
            mac = self._client.info.mac
            await self._integration._mark_blaster(blaster_device_id(mac), False, str(err))
            raise


class BroadlinkIntegration(Integration):
    """Broadlink RM blasters and the IR devices they drive."""

    domain = DOMAIN

    def __init__(self) -> None:
        self._hub: HubPort | None = None
        self._settings = Settings()
        self._blasters: dict[str, BroadlinkClient] = {}  # by hub device id
        self._online: dict[str, bool] = {}
        self._ir = IrDevices(DOMAIN, self._ir_blaster, self._ir_availability)
        self._discover_lock = asyncio.Lock()
        # Blasters adopted before a restart (hub device id -> host, port), added like `hosts`.
        self._stored: dict[str, tuple[str, int]] = {}
        self._offered: dict[str, BroadlinkClient] = {}  # probe finds waiting for adoption
        self._poll_task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Read the config, register the IR devices and start the poll loop."""
        self._hub = hub
        self._settings = Settings.from_config(config)
        for desc in hub.stored_devices(DOMAIN):
            host = desc.extra.get("host") or desc.address
            if "mac" in desc.extra and host:  # a blaster (IR devices have no MAC)
                self._stored[desc.id] = (str(host), int(desc.extra.get("port", pk.PORT)))
        store_path = self._settings.store_path or hub.storage_dir(DOMAIN) / "learned.json"
        await self._ir.setup(hub, self._settings.devices, store_path, self._settings.profile_dirs)
        self._poll_task = asyncio.create_task(self._poll_loop(), name="broadlink-poll")

    async def shutdown(self) -> None:
        """Stop polling (the library holds no open sockets between calls)."""
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
            self._poll_task = None

    async def discover(self) -> None:
        """Connect to the configured hosts and probe `discover_address` for more blasters."""
        async with self._discover_lock:
            s = self._settings
            for host, port in dict.fromkeys((*s.hosts, *self._stored.values())):
                known = self._blasters.values()
                if any(c.info.host == host and c.info.port == port for c in known):
                    continue
                try:
                    client = await BroadlinkClient.connect(host, port, timeout=s.timeout)
                except IntegrationError as err:
                    _LOG.warning("Broadlink blaster at %s:%s not reachable: %s", host, port, err)
                    continue
                await self._add_blaster(client)
            if s.discover_address:
                try:
                    found = await BroadlinkClient.discover(
                        s.discover_address,
                        timeout=s.discover_timeout,
                        port=s.discover_port,
                        client_timeout=s.timeout,
                    )
                except IntegrationError as err:
                    _LOG.warning("Broadlink discovery failed: %s", err)
                    found = []
                for client in found:
                    known_client = self._blasters.get(blaster_device_id(client.info.mac))
                    if known_client is not None and known_client.info.host == client.info.host:
                        continue  # a blaster that moved (new DHCP lease) is re-added
                    if known_client is None and not self._wanted(client):
                        await self._offer(client)
                        continue
                    try:
                        await client.authenticate()
                    except IntegrationError as err:
                        _LOG.warning("found %s but cannot use it: %s", client.info.label, err)
                        continue
                    await self._add_blaster(client)

    def _wanted(self, client: BroadlinkClient) -> bool:
        """Whether a probe find is added without asking (see the module docstring)."""
        info = client.info
        return (
            self._settings.adopt == "auto"
            or blaster_device_id(info.mac) in self._stored
            or (info.host, info.port) in self._settings.hosts
            or any(_same_blaster(dev.config.blaster, client) for dev in self._ir)
        )

    async def _offer(self, client: BroadlinkClient) -> None:
        info = client.info
        dev_id = blaster_device_id(info.mac)
        self._offered[dev_id] = client
        assert self._hub is not None
        await self._hub.discovered(
            DiscoveredDevice(
                key=dev_id,
                integration=DOMAIN,
                name=info.name or f"Broadlink {info.model}",
                address=info.host,
                port=info.port,
                model=info.model or hex(info.devtype),
                properties={"mac": info.mac, "devtype": info.devtype},
            )
        )

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Add a blaster the probe found; it comes back by itself after a restart."""
        async with self._discover_lock:
            client = self._offered.get(found.key)
            if client is None:  # offered before this integration restarted: say hello again
                port = found.port or pk.PORT
                client = await BroadlinkClient.connect(
                    found.address, port, timeout=self._settings.timeout
                )
            else:
                await client.authenticate()
            self._offered.pop(found.key, None)
            await self._add_blaster(client)
            self._stored[blaster_device_id(client.info.mac)] = (client.info.host, client.info.port)

    # --- hub calls ----------------------------------------------------------------------------

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send the IR frame(s) for desired values and report them as the assumed state."""
        if device_id not in self._ir:
            raise CommandFailed(f"{device_id} has no writable properties (it is a blaster)")
        await self._ir.apply_desired(device_id, changes)

    async def send_command(
        self, device_id: str, command: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Send one named IR code; commands that imply power update the assumed state."""
        if device_id not in self._ir:
            raise CommandFailed(f"{device_id} is a blaster; send commands to its IR devices")
        await self._ir.send_command(device_id, command, params)

    async def remove(self, device_id: str) -> None:
        """Forget a device the user removed (configured ones come back on the next start)."""
        self._ir.remove(device_id)
        self._blasters.pop(device_id, None)
        self._online.pop(device_id, None)
        self._stored.pop(device_id, None)

    # --- learning -----------------------------------------------------------------------------

    async def learn(
        self, blaster_id: str, timeout_s: float = 30.0, progress: ProgressCallback | None = None
    ) -> bytes:
        """Put a blaster (hub id, MAC or host) in learning mode and return the code it hears."""
        client = self._blaster(blaster_id)
        try:
            return await client.learn(timeout_s, progress)
        except DeviceUnreachable as err:
            await self._mark_blaster(blaster_device_id(client.info.mac), False, str(err))
            raise

    async def learn_command(
        self,
        device_id: str,
        command: str,
        timeout_s: float = 30.0,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """Learn a code through an IR device's blaster and save it as one of its commands."""
        dev = self._ir_device(device_id)
        code = await self.learn(dev.config.blaster, timeout_s, progress)
        await self.save_learned(device_id, command, code)
        return code

    async def save_learned(self, device_id: str, command: str, code: bytes) -> None:
        """Add (or replace) a named code on an IR device; persisted in `store_path`."""
        await self._ir.save_learned(device_id, command, code)

    async def export_profile(
        self, device_id: str, name: str, directory: str | Path | None = None
    ) -> Path:
        """Save an IR device's codes (learned ones included) as an ir_codes code set file.

        The file goes to `directory` or the first of `profile_dirs`; other IR devices can then
        use it by `name`. Codes that decode to a known protocol are stored as protocol codes.
        """
        self._ir_device(device_id)  # an unknown device is named before the folder
        folder = Path(directory) if directory else next(iter(self._settings.profile_dirs), None)
        if folder is None:
            raise CommandFailed(
                "no directory for your IR profiles: set profile_dirs in [integrations.broadlink]"
            )
        return await self._ir.export_profile(device_id, name, folder)

    def ir_commands(self, device_id: str) -> dict[str, bytes]:
        """The named codes of an IR device."""
        return dict(self._ir_device(device_id).profile.commands)

    @property
    def blasters(self) -> dict[str, BroadlinkClient]:
        """Connected blasters by hub device id."""
        return dict(self._blasters)

    # --- internals ----------------------------------------------------------------------------

    def _ir_device(self, device_id: str) -> IrDevice:
        return self._ir.get(device_id)

    def _blaster(self, ref: str, for_what: str = "") -> BroadlinkClient:
        for client in self._blasters.values():
            if _same_blaster(ref, client):
                return client
        purpose = f" (for {for_what})" if for_what else ""
        raise DeviceUnreachable(
            f"IR blaster {ref}{purpose} is not connected; check that it is powered and "
            "listed in hosts or reachable through discover_address in [integrations.broadlink]"
        )

    def _ir_blaster(self, cfg: IrDeviceConfig) -> _RmBlaster:
        return _RmBlaster(self, self._blaster(cfg.blaster, cfg.name))

    def _ir_availability(self, cfg: IrDeviceConfig) -> tuple[bool, str]:
        online = any(
            self._online.get(bid, False) and _same_blaster(cfg.blaster, c)
            for bid, c in self._blasters.items()
        )
        return online, "" if online else f"blaster {cfg.blaster} is not connected"

    async def _report(self, device_id: str, values: Mapping[str, Any]) -> None:
        if self._hub is not None:
            await self._hub.report(device_id, values)

    async def _add_blaster(self, client: BroadlinkClient) -> None:
        info = client.info
        dev_id = blaster_device_id(info.mac)
        self._blasters[dev_id] = client
        if dev_id in self._stored:  # follow a stored blaster that moved (new DHCP lease)
            self._stored[dev_id] = (info.host, info.port)
        props: dict[str, PropertySpec] = {}
        sensors: dict[str, float] = {}
        online, reason = True, ""
        try:
            sensors = await client.sensors()
        except CommandFailed:
            sensors = {}  # models without sensors answer "not supported"
        except DeviceUnreachable as err:
            online, reason = False, str(err)
        for key in sensors:
            props[key] = spec_for(key)
        assert self._hub is not None
        await self._hub.add_device(
            DeviceDescription(
                id=dev_id,
                integration=DOMAIN,
                name=info.name or f"Broadlink {info.model}",
                model=info.model or hex(info.devtype),
                manufacturer=info.manufacturer or "Broadlink",
                address=info.host,
                properties=props,
                capabilities=(IR_SEND, IR_LEARN),
                extra={
                    "mac": info.mac, "devtype": info.devtype, "host": info.host, "port": info.port,
                },
            )
        )
        if sensors:
            await self._hub.report(dev_id, sensors)
        self._online.pop(dev_id, None)  # (re)announce availability of a newly added blaster
        await self._mark_blaster(dev_id, online, reason)

    async def _mark_blaster(self, dev_id: str, online: bool, reason: str = "") -> None:
        if self._hub is None or self._online.get(dev_id) == online:
            return
        self._online[dev_id] = online
        await self._hub.set_available(dev_id, online, reason)
        client = self._blasters[dev_id]
        await self._ir.set_available(lambda cfg: _same_blaster(cfg.blaster, client), online, reason)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.poll_interval)
            try:
                await self._poll_once()
            except IntegrationError as err:
                _LOG.warning("Broadlink poll failed, will retry: %s", err)
            except Exception:  # a bug in one cycle must not stop sensors and reconnects for good
                _LOG.exception("Broadlink poll cycle failed; retrying next interval")

    async def _poll_once(self) -> None:
        """Read sensors (or firmware) of every blaster; reconnect what is missing."""
        for dev_id, client in list(self._blasters.items()):
            try:
                values = await client.sensors()
                if not values:
                    await client.firmware()  # no sensors: still prove it answers
            except DeviceUnreachable as err:
                await self._mark_blaster(dev_id, False, str(err))
                continue
            except CommandFailed:
                values = {}
            await self._mark_blaster(dev_id, True)
            if values:
                await self._report(dev_id, values)
        if self._missing_blasters():
            await self.discover()

    def _missing_blasters(self) -> bool:
        """True when a configured host or an IR device's blaster is not connected yet."""
        clients = list(self._blasters.values())
        hosts = {(c.info.host, c.info.port) for c in clients}
        if any(h not in hosts for h in (*self._settings.hosts, *self._stored.values())):
            return True
        return any(
            not any(_same_blaster(dev.config.blaster, c) for c in clients)
            for dev in self._ir
        )
