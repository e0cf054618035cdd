"""The hub side of the MQTT export (a composition root, like the CLI): registry and event bus

Enabled by `[integrations.mqtt.publish] enabled = true` (see integrations/mqtt/config.py).
Commands from the broker become desired writes through `DeviceRegistry.write_desired`, the
same path as the API (validation, per-key versions, offline queueing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import __version__
from hub.api.router import Router
from hub.config import HubConfig
from hub.core.registry import DeviceRecord
from hub.errors import HubError
from hub.events import (
    DeviceAdded,
    DeviceAvailability,
    DeviceRemoved,
    DeviceUpdated,
    Event,
    StateChanged,
)
from integrations.errors import CommandFailed, IntegrationError
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.export import HaExport
from integrations.mqtt.ha_discovery import ExportedDevice

if TYPE_CHECKING:
    from hub.app import Hub, HubComponent


class _HubSource:
    """`ExportSource` over a running hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @staticmethod
    def _view(rec: DeviceRecord) -> ExportedDevice:
        d = rec.description
        return ExportedDevice(
            id=d.id, name=rec.name, integration=d.integration, properties=d.properties,
            room=rec.room, model=d.model, manufacturer=d.manufacturer, online=rec.online,
            reported=rec.shadow.reported_values(),
            pending={k: v.value for k, v in rec.shadow.desired.items()},
        )

    def devices(self) -> list[ExportedDevice]:
        return [self._view(rec) for rec in self.hub.registry.devices.values()]

    def device(self, device_id: str) -> ExportedDevice | None:
        rec = self.hub.registry.devices.get(device_id)
        return self._view(rec) if rec is not None else None

    def watch(self, changed: Callable[[str], None]) -> Callable[[], None]:
        def on_event(event: Event) -> None:
            if event.device_id is not None:
                changed(event.device_id)
        return self.hub.bus.subscribe(on_event, [StateChanged, DeviceAvailability, DeviceAdded,
                                                 DeviceUpdated, DeviceRemoved])

    async def write(self, device_id: str, values: dict[str, Any]) -> str:
        try:
            ack = await self.hub.registry.write_desired(device_id, values)
        except HubError as err:
            raise CommandFailed(err.message) from err
        return ack.command_id

    async def press(self, device_id: str, command: str) -> None:
        try:
            await self.hub.registry.send_command(device_id, command)
        except HubError as err:
            raise CommandFailed(err.message) from err


class MqttExportComponent:
    """A HubComponent running the Home Assistant discovery export."""

    def __init__(self, config: MqttConfig) -> None:
        self.config = config
        self.export: HaExport | None = None

    async def start(self, hub: Hub) -> None:
        """Connect in the background and publish every device."""
        self.export = HaExport(self.config.broker, self.config.publish, _HubSource(hub),
                               version=__version__, node_id=self.config.publish.base_topic,
                               max_payload_bytes=self.config.max_payload_bytes)
        await self.export.start()

    async def stop(self) -> None:
        """Say offline and disconnect."""
        if self.export is not None:
            await self.export.stop()

    def register_routes(self, router: Router) -> None:
        """No endpoints of its own."""


def mqtt_export(config: HubConfig) -> HubComponent | None:
    """The export when `[integrations.mqtt.publish] enabled = true`, else None."""
    section = config.integrations.get("mqtt")
    if section is None:
        return None
    try:
        mqtt = MqttConfig.from_mapping(section)
    except IntegrationError as err:
        from hub.errors import ConfigError

        raise ConfigError(str(err)) from err
    return MqttExportComponent(mqtt) if mqtt.publish.enabled else None
