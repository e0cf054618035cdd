"""The ECHONET Lite integration: discovery, polling, notifications and writes for the hub.

Config section `[integrations.echonet]`:
    bind = "0.0.0.0"        # local address; devices answer to port 3610 of it
    port = 3610
    hosts = ["192.168.1.20"] # nodes to ask directly (networks that block multicast)
    multicast = true        # also discover with Get 0xD6 to 224.0.23.0 and hear INF there
    adopt = "ask"           # nodes found by multicast or INF: "ask" offers them for adoption
                            # (GET /api/v1/discovered), "auto" adds them at once. Configured
                            # hosts and nodes adopted before a restart are always added.
    poll_interval_s = 30
    timeout_s = 3
    retries = 2
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.model import (
    DeviceDescription,
    DiscoveredDevice,
    HubPort,
    Integration,
    make_device_id,
)
from integrations.echonet.controller import NodeInfo, ObjectInfo, get, read_node, refused
from integrations.echonet.frame import NODE_PROFILE, Eoj, Esv, Frame, FrameError, Property
from integrations.echonet.mapping import DeviceMapping
from integrations.echonet.protocol import (
    INSTANCE_LIST_NOTIFICATION,
    EchonetClient,
    parse_instance_list,
)
from integrations.echonet.transport import PORT
from integrations.errors import CommandFailed, DeviceUnreachable, IntegrationError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EchonetConfig:
    """The integration's settings (see the module docstring)."""

    bind: str = "0.0.0.0"
    port: int = PORT
    hosts: tuple[str, ...] = ()
    multicast: bool = True
    poll_interval_s: float = 30.0
    timeout_s: float = 3.0
    retries: int = 2
    discovery_wait_s: float = 1.0
    adopt: str = "ask"

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> EchonetConfig:
        """Validate a config section; raises IntegrationError naming the bad key."""
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:  # a typo should be visible, but keys the hub adds must not stop us
            _LOGGER.warning(
                "ignoring unknown [integrations.echonet] keys: %s; known: %s",
                ", ".join(sorted(unknown)), ", ".join(sorted(known)),
            )
        hosts = config.get("hosts", ())
        if isinstance(hosts, str) or not all(isinstance(h, str) for h in hosts):
            raise IntegrationError("[integrations.echonet] hosts must be a list of IP addresses")
        d = cls()
        try:
            out = cls(
                bind=str(config.get("bind", d.bind)),
                port=int(config.get("port", d.port)),
                hosts=tuple(hosts),
                multicast=bool(config.get("multicast", d.multicast)),
                poll_interval_s=float(config.get("poll_interval_s", d.poll_interval_s)),
                timeout_s=float(config.get("timeout_s", d.timeout_s)),
                retries=int(config.get("retries", d.retries)),
                discovery_wait_s=float(config.get("discovery_wait_s", d.discovery_wait_s)),
                adopt=str(config.get("adopt", d.adopt)),
            )
        except (TypeError, ValueError) as err:
            raise IntegrationError(f"[integrations.echonet] has a bad value: {err}") from err
        if out.poll_interval_s <= 0 or out.timeout_s <= 0 or out.retries < 0:
            raise IntegrationError(
                "[integrations.echonet] poll_interval_s and timeout_s must be positive, "
                "retries zero or more"
            )
        if out.adopt not in ("ask", "auto"):
            raise IntegrationError(
                f'[integrations.echonet] adopt must be "ask" or "auto", not {out.adopt!r}'
            )
        return out


@dataclass
class _Device:
    device_id: str
    host: str
    obj: ObjectInfo
    mapping: DeviceMapping


@dataclass
class _Node:
    info: NodeInfo
    online: bool = True
    devices: dict[Eoj, _Device] = field(default_factory=dict)


class EchonetIntegration(Integration):
    """Drives ECHONET Lite nodes over UDP 3610."""

    domain = "echonet"

    def __init__(self) -> None:
        self.config = EchonetConfig()
        self._hub: HubPort | None = None
        self._client: EchonetClient | None = None
        self._nodes: dict[str, _Node] = {}
        self._devices: dict[str, _Device] = {}
        self._reading: dict[str, asyncio.Task[None]] = {}
        # Hosts configured, adopted or (adopt = "auto") seen: read, and retried until read.
        self._wanted: set[str] = set()
        # Hosts found by multicast or INF, offered for adoption: their instance lists, if heard.
        self._offered: dict[str, list[Eoj] | None] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poller: asyncio.Task[None] | None = None

    @property
    def client(self) -> EchonetClient:
        """The protocol client (its transport's stats count datagrams)."""
        if self._client is None:
            raise IntegrationError("the ECHONET integration is not set up")
        return self._client

    @property
    def hub(self) -> HubPort:
        """The hub this integration reports to."""
        if self._hub is None:
            raise IntegrationError("the ECHONET integration is not set up")
        return self._hub

    def nodes(self) -> dict[str, NodeInfo]:
        """Known nodes by address."""
        return {host: node.info for host, node in self._nodes.items()}

    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Bind the socket and start polling."""
        self.config = EchonetConfig.from_mapping(config)
        self._hub = hub
        # Nodes adopted before a restart come back without asking again.
        self._wanted.update(
            str(d.extra["host"]) for d in hub.stored_devices(self.domain) if d.extra.get("host")
        )
        self._client = EchonetClient(
            bind=self.config.bind, port=self.config.port, multicast=self.config.multicast,
            timeout_s=self.config.timeout_s, retries=self.config.retries,
            on_notify=self._on_notify,
        )
        try:
            await self._client.start()
        except OSError as err:
            raise IntegrationError(
                f"cannot listen on {self.config.bind}:{self.config.port} for ECHONET Lite "
                f"({err}); is another controller using the port? Set `bind` to an address of "
                "this machine"
            ) from err
        self._poller = asyncio.create_task(self._poll_forever(), name="echonet-poll")

    async def discover(self) -> None:
        """Read the configured and adopted nodes; ask the multicast group (if enabled) for more."""
        client = self.client
        self._wanted.update(await self._configured_hosts())
        found: dict[str, list[Eoj] | None] = dict.fromkeys(self._wanted)
        if self.config.multicast and client.transport.multicast_ok:
            for host, eojs in (await client.discover_multicast(
                    self.config.discovery_wait_s)).items():
                if host in self._wanted or self.config.adopt == "auto":
                    found[host] = eojs
                else:
                    await self._offer(host, eojs)
        self._wanted.update(found)
        await asyncio.gather(
            *(self._read_node(host, eojs) for host, eojs in found.items()
              if host not in self._nodes)
        )

    async def _configured_hosts(self) -> set[str]:
        """`hosts` as IP addresses: nodes answer from their IP, so a name is resolved first."""
        hosts: set[str] = set()
        loop = asyncio.get_running_loop()
        for host in self.config.hosts:
            try:
                hosts.add(str(ipaddress.ip_address(host)))
                continue
            except ValueError:
                pass
            try:
                infos = await loop.getaddrinfo(
                    host, self.config.port, family=socket.AF_INET, type=socket.SOCK_DGRAM
                )
            except (socket.gaierror, UnicodeError) as err:
                reason = getattr(err, "strerror", None) or str(err)
                self.client.transport.log_once(
                    host,
                    f"host {host!r} under hosts in [integrations.echonet] does not resolve "
                    f"({reason}); fix the name or give the device's IP address (tried again "
                    "every poll)",
                )
                continue
            address = str(infos[0][4][0])
            if address not in self._nodes and address not in self._wanted:
                _LOGGER.info("ECHONET host %s is %s", host, address)
            hosts.add(address)
        return hosts

    async def _offer(self, host: str, instances: list[Eoj] | None) -> None:
        """Report a node nobody asked for as discovered; adopting it reads it (`adopt`)."""
        known = self._offered.get(host)
        self._offered[host] = instances if instances is not None else known
        objects = [e for e in instances or () if e.group != 0x0E]
        await self.hub.discovered(DiscoveredDevice(
            key=make_device_id(self.domain, host),
            integration=self.domain,
            name=f"ECHONET Lite node at {host}",
            address=host,
            port=PORT,
            model=f"{len(objects)} ECHONET Lite objects" if objects else "ECHONET Lite node",
            properties={"objects": [str(e) for e in objects]},
        ))

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """Read an offered node and add its devices; it is polled from now on."""
        host = found.address
        self._wanted.add(host)
        await self._read_node(host, self._offered.get(host))
        if host not in self._nodes:
            raise DeviceUnreachable(
                f"the ECHONET Lite node at {host} did not answer; check that it is powered "
                "and on this network, it is retried every poll"
            )
        self._offered.pop(host, None)

    async def _read_node(self, host: str, instances: list[Eoj] | None) -> None:
        running = self._reading.get(host)
        if running is not None:
            await running
            return
        task = asyncio.create_task(self._add_node(host, instances), name=f"echonet-read-{host}")
        self._reading[host] = task
        try:
            await task
        finally:
            self._reading.pop(host, None)

    async def _add_node(self, host: str, instances: list[Eoj] | None) -> None:
        try:
            info = await read_node(self.client, host, instances)
        except (DeviceUnreachable, FrameError) as err:
            _LOGGER.info("ECHONET node %s not added yet: %s", host, err)
            return
        for old_host, old in list(self._nodes.items()):
            if old_host != host and old.info.node_id == info.node_id:
                # The same unit (same 0x83 id) at a new address (DHCP): follow it.
                _LOGGER.info("ECHONET node %s moved from %s to %s", info.node_id, old_host, host)
                del self._nodes[old_host]
                self._wanted.discard(old_host)
        node = _Node(info)
        for obj in info.objects:
            mapping = obj.mapping
            device_id = make_device_id("echonet", info.node_id, str(obj.eoj))
            device = _Device(device_id, host, obj, mapping)
            node.devices[obj.eoj] = device
            self._devices[device_id] = device
            await self.hub.add_device(self._description(info, device))
        self._nodes[host] = node
        for device in node.devices.values():
            await self.hub.set_available(device.device_id, True)
        await self._poll_node(node)

    def _description(self, info: NodeInfo, device: _Device) -> DeviceDescription:
        mapping = device.mapping
        return DeviceDescription(
            id=device.device_id,
            integration=self.domain,
            name=f"{mapping.short_name} {device.obj.eoj.instance}",
            model=mapping.model if mapping.mapped else f"{mapping.model} (raw properties)",
            properties=mapping.properties(),
            manufacturer=f"ECHONET maker {device.obj.maker or info.maker}".strip(),
            address=info.host,
            extra={"host": info.host, "eoj": str(device.obj.eoj), "node_id": info.node_id},
        )

    async def poll_once(self) -> None:
        """Poll every known node once (one Get frame per object) and retry missing hosts."""
        missing = sorted(self._wanted.union(await self._configured_hosts()) - set(self._nodes))
        await asyncio.gather(
            *(self._poll_node(node) for node in list(self._nodes.values())),
            *(self._read_node(host, None) for host in missing),
        )

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.poll_once()
            except IntegrationError as err:  # one bad cycle must not end polling
                _LOGGER.warning("ECHONET poll failed, retrying next cycle: %s", err)

    async def _poll_node(self, node: _Node) -> None:
        for device in list(node.devices.values()):
            epcs = device.mapping.poll_epcs()
            if not epcs:
                continue
            try:
                values = await get(self.client, node.info.host, device.obj.eoj, epcs)
            except DeviceUnreachable as err:
                await self._set_node_online(node, False, str(err))
                return
            await self._set_node_online(node, True)
            await self._report(device, values)

    async def _set_node_online(self, node: _Node, online: bool, reason: str = "") -> None:
        if node.online == online or self._nodes.get(node.info.host) is not node:
            return  # unchanged, or a node replaced meanwhile (moved, re-read)
        node.online = online
        _LOGGER.info("ECHONET node %s is %s %s", node.info.host,
                     "back online" if online else "offline:", reason)
        for device in node.devices.values():
            await self.hub.set_available(device.device_id, online, reason)

    async def _report(self, device: _Device, values: Mapping[int, bytes]) -> None:
        decoded = device.mapping.decode(values)
        if decoded:
            await self.hub.report(device.device_id, decoded)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("ECHONET background work failed", exc_info=task.exception())

    async def settle(self) -> None:
        """Wait for background work started by notifications (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _on_notify(self, frame: Frame, host: str) -> None:
        if host not in self._wanted and host not in self._nodes:
            if self.config.adopt == "ask":
                self._spawn(self._offer(host, self._announced(frame)))
                return
            self._wanted.add(host)
        node = self._nodes.get(host)
        if frame.seoj.class_code == NODE_PROFILE.class_code:
            edt = frame.edt(INSTANCE_LIST_NOTIFICATION)
            if edt is not None:
                instances = parse_instance_list(edt)  # FrameError is logged by the transport
                if node is None or {o.eoj for o in node.info.objects} != {
                    e for e in instances if e.group != 0x0E
                }:
                    self._nodes.pop(host, None)
                    self._spawn(self._read_node(host, instances))
                else:
                    # A node announces itself when it (re)starts: what it held before may be
                    # gone, so read its values now rather than at the next poll.
                    self._spawn(self._poll_node(node))
            return
        if node is None:
            self._spawn(self._read_node(host, None))
            return
        device = node.devices.get(frame.seoj)
        if device is not None:
            self._spawn(self._notified(node, device, frame.values()))

    @staticmethod
    def _announced(frame: Frame) -> list[Eoj] | None:
        if frame.seoj.class_code != NODE_PROFILE.class_code:
            return None
        edt = frame.edt(INSTANCE_LIST_NOTIFICATION)
        try:
            return parse_instance_list(edt) if edt is not None else None
        except FrameError:
            return None

    async def _notified(self, node: _Node, device: _Device, values: dict[int, bytes]) -> None:
        await self._set_node_online(node, True)
        await self._report(device, values)

    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """One SetC with every change; Set_Res is reported, SNA becomes CommandFailed."""
        device = self._devices.get(device_id)
        if device is None:
            raise CommandFailed(
                f"{device_id} is not an ECHONET device this hub has found; run discovery"
            )
        props = [Property(*device.mapping.encode(name, value)) for name, value in changes.items()]
        node = self._nodes.get(device.host)
        try:
            answer = await self.client.request(device.host, device.obj.eoj, Esv.SETC, props)
        except DeviceUnreachable as err:
            if node is not None:
                await self._set_node_online(node, False, str(err))
            raise
        if node is not None:
            await self._set_node_online(node, True)
        assert answer is not None  # SetC always has an answer or raises
        sent = {p.epc: p.edt for p in props}
        rejected = refused(answer)
        accepted = {epc: edt for epc, edt in sent.items() if epc not in rejected}
        if accepted:
            await self._report(device, accepted)
        if answer.esv is not Esv.SET_RES or rejected:
            names = ", ".join(device.mapping.name_of(epc) for epc in rejected) or "the request"
            raise CommandFailed(
                f"{device.mapping.model} at {device.host} refused {names} ({answer.esv.name}); "
                "the device may not support that value in its current state"
            )

    async def remove(self, device_id: str) -> None:
        """Stop polling a device."""
        device = self._devices.pop(device_id, None)
        if device is not None and device.host in self._nodes:
            self._nodes[device.host].devices.pop(device.obj.eoj, None)

    async def shutdown(self) -> None:
        """Stop polling and close the socket."""
        tasks = [t for t in (self._poller, *self._tasks, *self._reading.values()) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._poller = None
        if self._client is not None:
            await self._client.close()

