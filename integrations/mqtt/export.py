"""Publish the hub's devices to an MQTT broker as Home Assistant discovery (opt-in).

`HaExport` keeps its own broker connection (will: `<base>/status` = `offline`), publishes the
discovery configs, availability and retained states, and turns messages on the command topics
into desired writes through the hub's normal path (`ExportSource.write`: validation,
idempotency, offline queueing). It republishes everything when Home Assistant announces itself
(`homeassistant/status` = `online`) and clears retained configs of devices the hub no longer
has. Retained commands are ignored (a stale command must not replay on every restart); a
command that asks for what is already reported or already pending changes nothing, so a QoS 1
duplicate is applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

import aiomqtt

from integrations.errors import CommandFailed, IntegrationError
from integrations.mqtt.config import BrokerSettings, PublishSettings
from integrations.mqtt.errors import BrokerUnavailable, PayloadError
from integrations.mqtt.ha_discovery import (
    COMMAND,
    ExportedDevice,
    base_of,
    config_topic,
    entities,
    parse_command,
    safe,
    state_payloads,
)
from integrations.mqtt.link import Backoff, Inbound, MqttLink, cancel_to_end

_LOG = logging.getLogger(__name__)


class ExportSource(Protocol):
    """What the export needs from the hub (implemented by hub/cli/mqtt_export.py)."""

    def devices(self) -> list[ExportedDevice]:
        """Every device, now."""
        ...

    def device(self, device_id: str) -> ExportedDevice | None:
        """One device, now."""
        ...

    def watch(self, changed: Callable[[str], None]) -> Callable[[], None]:
        """Call `changed(device_id)` when a device's state, availability or description
        changes, or it is removed; returns the unsubscribe function."""
        ...

    async def write(self, device_id: str, values: dict[str, Any]) -> str:
        """A desired write through the hub's normal path; returns the command id.
        CommandFailed (with the reason) when the hub refuses it."""
        ...

    async def press(self, device_id: str, command: str) -> None:
        """Run a named command (an IR button)."""
        ...


class HaExport:
    """The export; `start()` connects in the background."""

    def __init__(self, broker: BrokerSettings, settings: PublishSettings, source: ExportSource,
                 *, version: str = "", node_id: str = "homehub",
                 max_payload_bytes: int = 4096, backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.source = source
        self.version = version
        self.node_id = safe(node_id)
        self.base = settings.base_topic
        self.status_topic = f"{self.base}/status"
        self.link = MqttLink(
            broker, name="export", max_payload_bytes=max_payload_bytes,
            will=aiomqtt.Will(self.status_topic, b"offline", 1, True),
            on_connected=self._connected, backoff=backoff)
        self._published: dict[str, bytes] = {}  # topic -> last payload we retained
        self._configs: dict[str, set[str]] = {}  # device id -> its config topics
        self._by_safe: dict[str, str] = {}  # safe id -> device id
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._unwatch: Callable[[], None] | None = None
        self.commands = 0  # commands written to the hub (tests, stats)
        self.duplicates = 0  # commands that asked for nothing new

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Subscribe to command topics and Home Assistant's birth message; connect."""
        prefix = self.settings.discovery_prefix
        await self.link.subscribe(f"{self.base}/+/+/set", self._on_command)
        await self.link.subscribe(f"{prefix}/status", self._on_ha_status)
        await self.link.subscribe(f"{prefix}/+/{self.node_id}/+/config", self._on_config)
        self._unwatch = self.source.watch(self._changed)
        self._worker = asyncio.create_task(self._work(), name="mqtt-export")
        await self.link.start()

    async def stop(self) -> None:
        """Say offline (an orderly stop sends no will) and disconnect."""
        if self._unwatch is not None:
            self._unwatch()
        if self._worker is not None and not await cancel_to_end(self._worker):
            _LOG.error("MQTT export: the publishing task did not stop; left behind")
        with contextlib.suppress(BrokerUnavailable):
            await self.link.publish(self.status_topic, b"offline", retain=True)
        await self.link.close()

    def _exported(self, device: ExportedDevice) -> bool:
        return device.integration not in self.settings.exclude_integrations

    # ----------------------------------------------------------------- publishing
    async def _connected(self) -> None:
        self._published.clear()
        await self.link.publish(self.status_topic, b"online", retain=True)
        self._dirty.update(d.id for d in self.source.devices())
        self._wake.set()

    def _changed(self, device_id: str) -> None:
        self._dirty.add(device_id)
        self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty and self.link.connected:
                device_id = self._dirty.pop()
                try:
                    await self._publish_device(device_id)
                except BrokerUnavailable:
                    self._dirty.add(device_id)  # published again after the reconnect
                    break
                except IntegrationError:
                    _LOG.exception("MQTT export of %s failed", device_id)

    async def _retain(self, topic: str, payload: bytes) -> None:
        if self._published.get(topic) == payload:
            return
        await self.link.publish(topic, payload, retain=True)
        self._published[topic] = payload

    async def _publish_device(self, device_id: str) -> None:
        device = self.source.device(device_id)
        old_configs = self._configs.get(device_id, set())
        if device is None or not self._exported(device):
            for topic in old_configs:  # removed (or excluded): delete its entities
                await self._retain(topic, b"")
            self._configs.pop(device_id, None)
            return
        base = base_of(self.base, device.id)
        self._by_safe[safe(device.id)] = device.id
        configs: set[str] = set()
        for entity in entities(device, self.base, self.version):
            topic = config_topic(self.settings.discovery_prefix, self.node_id, entity)
            configs.add(topic)
            await self._retain(topic, json.dumps(entity.config, sort_keys=True).encode())
        for topic in old_configs - configs:
            await self._retain(topic, b"")
        self._configs[device_id] = configs
        await self._retain(f"{base}/availability", b"online" if device.online else b"offline")
        for topic, payload in state_payloads(device, self.base).items():
            await self._retain(topic, payload.encode())

    async def _on_ha_status(self, message: Inbound) -> None:
        if message.payload == b"online":  # Home Assistant restarted: it wants the configs
            self._published.clear()
            self._dirty.update(d.id for d in self.source.devices())
            self._wake.set()

    async def _on_config(self, message: Inbound) -> None:
        """A retained config from an earlier run for a device the hub no longer exports is
        deleted, so Home Assistant does not keep a dead entity."""
        if not message.retain or not message.payload:
            return
        object_id = message.topic.rsplit("/", 2)[-2]
        current = {safe(d.id) for d in self.source.devices() if self._exported(d)}
        if not any(object_id.startswith(s + "_") for s in current):
            await self._retain(message.topic, b"")

    # ----------------------------------------------------------------- commands
    async def _on_command(self, message: Inbound) -> None:
        rest = message.topic[len(self.base) + 1: -len("/set")]
        safe_id, _, prop = rest.partition("/")
        device_id = self._by_safe.get(safe_id)
        device = self.source.device(device_id) if device_id else None
        if device_id is None or device is None or not self._exported(device):
            raise PayloadError(f"no exported device {safe_id!r}")
        if message.retain:
            raise PayloadError("ignored a retained command (stale commands must not replay; "
                               "publish commands without the retain flag)")
        if prop == COMMAND:
            command = message.payload.decode("utf-8", "replace").strip()
            try:
                await self.source.press(device_id, command)
            except CommandFailed as err:
                _LOG.warning("MQTT export: %s refused %s: %s", device.name, command, err)
            return
        values = parse_command(device, prop, message.payload)
        if self._nothing_new(device, values):
            self.duplicates += 1
            return
        try:
            await self.source.write(device_id, values)
        except CommandFailed as err:
            _LOG.warning("MQTT export: %s refused %s: %s", device.name, values, err)
            return
        self.commands += 1

    @staticmethod
    def _nothing_new(device: ExportedDevice, values: dict[str, Any]) -> bool:
        """Every value is already pending, or reported with nothing else pending."""
        for name, value in values.items():
            if name in device.pending:
                if device.pending[name] != value:
                    return False
            elif device.reported.get(name) != value:
                return False
        return True
