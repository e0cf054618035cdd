"""The ESPHome integration: native API devices (plaintext or Noise) through aioesphomeapi.

Config section::

    esphome:
      devices:
        - {host: 192.168.1.40, port: 6053, noise_psk: "base64 key", name: kitchen-sensor}
        - host: 192.168.1.41                 # a node with an `infrared:` transmitter
          ir_devices:                        # IR devices it drives (integrations.ir_devices)
            - {id: living-tv, name: Living room TV, room: Living room, profile: samsung_tv}
            - {name: Bedroom AC, profile: {kind: ac, brand: daikin}}
      profile_dirs: [/var/lib/homehub/ir_profiles]   # your own IR code sets, by name
      ir_store_path: /var/lib/homehub/esphome-ir.json  # learned codes, assumed state; default:
                                                     # <data dir>/integrations/esphome/

A node's infrared entities make it a blaster: its description's ``extra["ir_blaster"]`` says
whether it transmits and receives; the hub's IR learning (``IrLearner``) listens on its receiver.

Adopted devices carry the same entry in their DeviceDescription's ``extra`` (plus ``mac``), so
the hub can hand them back in ``devices`` after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from hub.model import DiscoveredDevice, HubPort, Integration
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError
from integrations.esphome.config import DEFAULT_PORT, DeviceConfig
from integrations.esphome.infrared import packet_from_capture, transmission_for
from integrations.esphome.link import (
    AUTH_ERRORS,
    DOMAIN,
    DeviceLink,
    LinkState,
    ProgressCallback,
    device_id_for,
    explain,
)
from integrations.esphome.node_secrets import FILE_NAME, SECRET_KEYS, NodeSecrets
from integrations.ir_devices import IrDeviceConfig, IrDevices, parse_device_config

_LOGGER = logging.getLogger(__name__)

ADOPT_TIMEOUT = 15.0


class EsphomeBlaster:
    """An ESPHome node's IR transmitter as the `Blaster` of IR devices."""

    def __init__(self, link: DeviceLink) -> None:
        self._link = link

    async def send(self, code: bytes) -> None:
        """Convert a Broadlink packet to raw timings and transmit it; wait for the node's word."""
        await self._link.transmit_ir(transmission_for(code))


def _ir_configs(cfg: DeviceConfig, entry: Mapping[str, Any]) -> list[IrDeviceConfig]:
    items = entry.get("ir_devices", []) or []
    if not isinstance(items, list):
        raise IntegrationError(f"esphome device {cfg.host}: ir_devices must be a list")
    try:
        return [parse_device_config(i, DOMAIN, blaster=f"{cfg.host}:{cfg.port}") for i in items]
    except (TypeError, ValueError, KeyError) as err:
        raise IntegrationError(
            f"esphome device {cfg.host}: ir_devices is not valid: {err}"
        ) from err


class EsphomeIntegration(Integration):
    """Drives ESPHome nodes; one `DeviceLink` (client + reconnect logic) per device."""

    domain: ClassVar[str] = DOMAIN

    def __init__(self, *, client_info: str = "homehub", keepalive: float = 20.0) -> None:
        self._client_info = client_info
        self._keepalive = keepalive
        self._hub: HubPort | None = None
        self._links: list[DeviceLink] = []
        self._ir = IrDevices(DOMAIN, self._ir_blaster, self._ir_availability)
        self._ir_links: dict[str, DeviceLink] = {}  # IR device blaster ref -> its node's link
        self._profile_dirs: list[Path] = []
        self._secrets: NodeSecrets | None = None  # keys of adopted nodes (0600 file)

    @property
    def links(self) -> tuple[DeviceLink, ...]:
        """Every device connection (for status pages and tests)."""
        return tuple(self._links)

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Connect to every configured device (in the background; offline ones are retried)."""
        self._hub = hub
        entries = config.get("devices", []) or []
        if not isinstance(entries, list):
            raise IntegrationError("esphome.devices must be a list of {host, port, ...} entries")
        # Devices adopted earlier resume from what the hub stored (their `extra` is a config entry
        # without secrets; keys and passwords come from the 0600 secrets file).
        stored = []
        for d in hub.stored_devices(DOMAIN):
            if d.extra.get("host"):
                await self._keep_secrets(d.id, d.extra)  # older hubs kept them in `extra`
                stored.append({**d.extra, **(await self._node_secrets()).get(d.id)})
        ir_configs = [
            ir for entry in entries for ir in _ir_configs(DeviceConfig.from_mapping(entry), entry)
        ]
        # IR devices first: they are registered (offline) before their node can come online
        store = config.get("ir_store_path")
        store_path = Path(store) if store else None
        if store_path is None and ir_configs:
            store_path = hub.storage_dir(DOMAIN) / "ir_devices.json"
        self._profile_dirs = [Path(d) for d in config.get("profile_dirs", ()) or ()]
        await self._ir.setup(hub, ir_configs, store_path, self._profile_dirs)
        for entry in [*entries, *stored]:
            cfg = DeviceConfig.from_mapping(entry)
            if any((link.cfg.host, link.cfg.port) == (cfg.host, cfg.port) for link in self._links):
                continue  # listed twice (config and a stored adoption): one connection
            await self._start_link(cfg)

    async def _node_secrets(self) -> NodeSecrets:
        """The keys of adopted nodes, read on first use (only adopted nodes have any)."""
        if self._secrets is None:
            if self._hub is None:
                raise IntegrationError("the esphome integration is not set up yet")
            secrets = NodeSecrets(self._hub.storage_dir(DOMAIN) / FILE_NAME)
            await asyncio.to_thread(secrets.load)
            self._secrets = secrets
        return self._secrets

    async def _keep_secrets(self, device_id: str, entry: Mapping[str, Any]) -> None:
        if any(entry.get(k) for k in SECRET_KEYS):
            values = {k: entry.get(k) for k in SECRET_KEYS}
            await asyncio.to_thread((await self._node_secrets()).put, device_id, values)

    async def _start_link(self, cfg: DeviceConfig) -> DeviceLink:
        if self._hub is None:
            raise IntegrationError("the esphome integration is not set up yet")
        link = DeviceLink(cfg, self._hub, client_info=self._client_info, keepalive=self._keepalive)
        link.availability_listeners.append(self._node_availability)
        ref = f"{cfg.host}:{cfg.port}"
        if any(dev.config.blaster == ref for dev in self._ir):
            self._ir_links[ref] = link  # before it starts: its first online must reach them
        self._links.append(link)
        await link.start()
        return link

    async def _drop_link(self, link: DeviceLink) -> None:
        if link in self._links:
            self._links.remove(link)
        await link.stop()

    def _link_for_device(self, device_id: str) -> DeviceLink:
        for link in self._links:
            if link.device_id == device_id:
                return link
        raise CommandFailed(f"{device_id} is not an ESPHome device this hub knows")

    def _link_for_mac(self, mac: str | None) -> DeviceLink | None:
        if not mac:
            return None
        mac = mac.replace(":", "").lower()
        wanted = device_id_for(mac)
        for link in self._links:
            if link.cfg.mac == mac or link.device_id == wanted:
                return link
        return None

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Connect to a discovered node; `options` may carry `noise_psk` and `password`.

        Returns once the device is added to the hub. CommandFailed when the key or password is
        wrong, DeviceUnreachable when it does not answer within `options["timeout"]` seconds.
        """
        mac = str(found.properties.get("mac", "")) or None
        existing = self._link_for_mac(mac)
        if existing is not None:
            if existing.cfg.host == found.address and existing.cfg.port == found.port:
                return
            await self._drop_link(existing)
        cfg = DeviceConfig.from_mapping({
            "host": found.address,
            "port": found.port or DEFAULT_PORT,
            "noise_psk": options.get("noise_psk"),
            "password": options.get("password"),
            "mac": mac,
        })
        link = await self._start_link(cfg)
        timeout = float(options.get("timeout", ADOPT_TIMEOUT))
        try:
            err = await link.first_result(timeout)
        except TimeoutError:
            await self._drop_link(link)
            raise DeviceUnreachable(
                f"the ESPHome device at {link.address} did not answer within {timeout:g} s; "
                "check that it is powered and on this network, then adopt it again"
            ) from None
        if err is not None:
            await self._drop_link(link)
            if isinstance(err, AUTH_ERRORS):
                raise CommandFailed(explain(err)) from err
            raise DeviceUnreachable(
                f"the ESPHome device at {link.address} cannot be reached ({err}); check that it "
                "is powered and on this network, then adopt it again"
            ) from err
        if link.device_id is not None:
            await self._keep_secrets(link.device_id, cfg.to_dict())

    async def follow(self, found: DiscoveredDevice) -> bool:
        """An adopted device was announced (again): connect to it where it is now.

        Reconnects a known device that moved, and starts a device the hub has stored (adopted
        before a restart) from its description's `extra`. True if the device is ours.
        """
        mac = str(found.properties.get("mac", "")).replace(":", "").lower() or None
        port = found.port or DEFAULT_PORT
        link = self._link_for_mac(mac)
        if link is None:
            stored = self._hub.device(device_id_for(mac)) if mac and self._hub else None
            if stored is None or stored.integration != DOMAIN:
                return False
            secrets = (await self._node_secrets()).get(stored.id)
            entry = {**stored.extra, **secrets, "host": found.address, "port": port, "mac": mac}
            await self._start_link(DeviceConfig.from_mapping(entry))
            return True
        if (link.cfg.host, link.cfg.port) == (found.address, port):
            return True
        _LOGGER.info("%s moved to %s:%d", link.address, found.address, port)
        cfg = DeviceConfig.from_mapping({**link.cfg.to_dict(), "host": found.address, "port": port})
        await self._drop_link(link)
        new_link = await self._start_link(cfg)
        for ref, ir_link in list(self._ir_links.items()):
            if ir_link is link:  # its IR devices follow the node to its new address
                self._ir_links[ref] = new_link
        return True

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send desired values as entity commands; the device confirms by streaming its state.

        IR devices driven by a node send IR frames instead and report the assumed state.
        """
        if device_id in self._ir:
            await self._ir.apply_desired(device_id, changes)
            return
        await self._link_for_device(device_id).apply(changes)

    async def send_command(
        self, device_id: str, command: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Send a named IR code of an IR device driven by a node."""
        if device_id not in self._ir:
            raise CommandFailed(
                f"{device_id} has no named commands; only IR devices of ESPHome blasters do"
            )
        await self._ir.send_command(device_id, command, params)

    # -- IR learning (hub.model.IrLearner) ------------------------------------------------
    async def learn(
        self, blaster_id: str, timeout_s: float = 30.0, progress: ProgressCallback | None = None
    ) -> bytes:
        """Listen on a node's IR receiver; the capture comes back as a Broadlink IR packet.

        `blaster_id` is the node's hub id, its host:port, or an IR device it drives.
        """
        timings, carrier = await self._blaster_link(blaster_id).receive_ir(timeout_s, progress)
        return packet_from_capture(timings, carrier)

    async def save_learned(self, device_id: str, command: str, code: bytes) -> None:
        """Add (or replace) a named code on an IR device; kept in the IR store."""
        await self._ir.save_learned(device_id, command, code)

    async def export_profile(
        self, device_id: str, name: str, directory: str | Path | None = None
    ) -> Path:
        """Save an IR device's codes (learned ones included) as a code set file named `name`,
        in `directory` or the first of `profile_dirs`."""
        self._ir.get(device_id)
        folder = Path(directory) if directory else next(iter(self._profile_dirs), None)
        if folder is None:
            raise CommandFailed("no directory for your IR profiles: set esphome.profile_dirs")
        return await self._ir.export_profile(device_id, name, folder)

    def ir_commands(self, device_id: str) -> dict[str, bytes]:
        """The named codes (Broadlink packets) of an IR device driven by a node."""
        return dict(self._ir.get(device_id).profile.commands)

    def _blaster_link(self, ref: str) -> DeviceLink:
        if ref in self._ir:
            ref = self._ir.get(ref).config.blaster
        if ref in self._ir_links:
            return self._ir_links[ref]
        for link in self._links:
            if ref in (link.device_id, link.address):
                return link
        raise CommandFailed(f"{ref} is not an ESPHome node this hub knows")

    def _ir_blaster(self, cfg: IrDeviceConfig) -> EsphomeBlaster:
        link = self._ir_links.get(cfg.blaster)
        if link is None:
            raise DeviceUnreachable(f"the ESPHome node {cfg.blaster} of {cfg.name} is not set up")
        return EsphomeBlaster(link)

    def _ir_availability(self, cfg: IrDeviceConfig) -> tuple[bool, str]:
        return self._node_ir_state(cfg.blaster)

    def _node_ir_state(self, ref: str) -> tuple[bool, str]:
        link = self._ir_links.get(ref)
        if link is None or not link.connected:
            return False, f"ESPHome node {ref} is not connected"
        if not any(e.transmits for e in link.infrared):
            return False, f"ESPHome node {ref} has no IR transmitter (infrared entity)"
        return True, ""

    async def _node_availability(self, link: DeviceLink) -> None:
        for ref, ir_link in list(self._ir_links.items()):
            if ir_link is not link:
                continue

            def uses(cfg: IrDeviceConfig, ref: str = ref) -> bool:
                return cfg.blaster == ref

            await self._ir.set_available(uses, *self._node_ir_state(ref))

    async def remove(self, device_id: str) -> None:
        """Forget a device: disconnect and stop reconnecting (an IR device: forget it)."""
        self._ir.remove(device_id)
        for link in list(self._links):
            if link.device_id == device_id:
                await self._drop_link(link)

    async def shutdown(self) -> None:
        """Disconnect from every device."""
        links, self._links = self._links, []
        await asyncio.gather(*(link.stop() for link in links), return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        """One line per device connection: address, device id, state, last error."""
        return [
            {
                "address": link.address,
                "device_id": link.device_id,
                "state": link.state.name.lower(),
                "connected": link.state is LinkState.CONNECTED,
                "error": explain(link.last_error) if link.last_error else None,
            }
            for link in self._links
        ]
