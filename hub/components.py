"""The optional parts a full hub runs beside its core (rules engine, relay link, mDNS ...).

Each entry is a factory taking the config and returning a HubComponent (or None when the
config does not ask for it). Tests build hubs with exactly the components they need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.backup.service import backup_component
from hub.config import HubConfig
from hub.discovery.component import lan_discovery
from hub.rules import rules_component

if TYPE_CHECKING:
    from hub.app import HubComponent

ComponentFactory = Callable[[HubConfig], "HubComponent | None"]


def _relay_link(config: HubConfig) -> HubComponent | None:
    # Imported here so a hub without a relay URL never loads the tunnel code.
    from hub.relay_link import relay_link_factory

    return relay_link_factory(config)


def _mqtt_export(config: HubConfig) -> HubComponent | None:
    # Imported here so a hub without [integrations.mqtt] never loads the MQTT code.
    if "mqtt" not in config.integrations:
        return None
    from hub.cli.mqtt_export import mqtt_export

    return mqtt_export(config)


def default_components(config: HubConfig) -> list[HubComponent]:
    """The components `homehub hub` and `homehub demo` run."""
    # The relay link comes before backups, which find it among the components to upload to.
    factories: list[ComponentFactory] = [
        lan_discovery,
        rules_component,
        _relay_link,
        _mqtt_export,
        backup_component,
    ]
    out = []
    for factory in factories:
        component = factory(config)
        if component is not None:
            out.append(component)
    return out
