"""The optional parts a full hub runs beside its core (rules engine, relay link, mDNS ...).

Each entry is a factory taking the config and returning a HubComponent (or None when the
config does not ask for it). Tests build hubs with exactly the components they need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.config import HubConfig

if TYPE_CHECKING:
    from hub.app import HubComponent

ComponentFactory = Callable[[HubConfig], "HubComponent | None"]


# Each part is imported only when the config asks for it: a hub on a small board pays in
# memory and start time only for what it runs (bench/hub_start.py measures both).


def _lan_discovery(config: HubConfig) -> HubComponent | None:
    if not config.advertise:  # --no-mdns: zeroconf is never loaded
        return None
    from hub.discovery.component import lan_discovery

    return lan_discovery(config)


def _rules(config: HubConfig) -> HubComponent | None:
    from hub.rules import rules_component

    return rules_component(config)


def _relay_link(config: HubConfig) -> HubComponent | None:
    if not config.relay_url:  # no relay: the tunnel code and its crypto are never loaded
        return None
    from hub.relay_link import relay_link_factory

    return relay_link_factory(config)


def _mqtt_export(config: HubConfig) -> HubComponent | None:
    # Imported here so a hub without [integrations.mqtt] never loads the MQTT code.
    if "mqtt" not in config.integrations:
        return None
    from hub.cli.mqtt_export import mqtt_export

    return mqtt_export(config)


def _backups(config: HubConfig) -> HubComponent | None:
    from hub.backup.service import backup_component

    return backup_component(config)


def default_components(config: HubConfig) -> list[HubComponent]:
    """The components `homehub hub` and `homehub demo` run."""
    # The relay link comes before backups, which find it among the components to upload to.
    factories: list[ComponentFactory] = [
        _lan_discovery,
        _rules,
        _relay_link,
        _mqtt_export,
        _backups,
    ]
    out = []
    for factory in factories:
        component = factory(config)
        if component is not None:
            out.append(component)
    return out
