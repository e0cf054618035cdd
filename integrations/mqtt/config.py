"""Settings of `[integrations.mqtt]`, validated once at start-up.

    [integrations.mqtt]
    host = "192.168.1.10"         # the MQTT broker
    port = 1883                   # 8883 is usual with TLS
    username = "homehub"          # optional
    password = "secret"
    tls = false                   # true: TLS, verified against ca_file (or the system CAs)
    ca_file = "/etc/homehub/broker-ca.pem"
    cert_file = ""                # a client certificate, when the broker asks for one
    key_file = ""
    tls_insecure = false          # true: do not check the broker's host name (self-signed)
    client_id = ""                # default: homehub-<random>
    families = ["zigbee2mqtt", "tasmota", "shelly"]   # which device families to look for
    zigbee2mqtt_topic = "zigbee2mqtt"                 # Zigbee2MQTT's base_topic
    tasmota_discovery = "tasmota/discovery"
    shelly_prefixes = []          # Shelly topic prefixes (default: "<id>/online", id shelly*)
    adopt = "ask"                 # "ask": found devices wait under GET /api/v1/discovered
    max_payload_bytes = 262144    # larger messages are dropped with one log line
    [integrations.mqtt.publish]   # the hub's own devices out, as Home Assistant MQTT discovery
    enabled = false
    discovery_prefix = "homeassistant"
    base_topic = "homehub"
    exclude_integrations = ["mqtt"]   # do not echo MQTT devices back to the broker
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from integrations.mqtt.errors import MqttConfigError

_LOG = logging.getLogger(__name__)

FAMILIES = ("zigbee2mqtt", "tasmota", "shelly")


def _get(section: Mapping[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = section.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MqttConfigError(
            f"[{where}] {key} must be a {kind.__name__}, got {value!r}"
        )
    return value


def _strings(section: Mapping[str, Any], key: str, default: tuple[str, ...],
             where: str) -> tuple[str, ...]:
    value = section.get(key, list(default))
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(
            isinstance(v, str) for v in value):
        raise MqttConfigError(f"[{where}] {key} must be a list of strings, got {value!r}")
    return tuple(value)


def _warn_unknown(section: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(section) - known
    if unknown:  # a typo should be visible, but must not stop the hub
        _LOG.warning("ignoring unknown [%s] keys: %s; known: %s", where,
                     ", ".join(sorted(unknown)), ", ".join(sorted(known)))


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """How to reach the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    client_id: str = ""
    keepalive_s: int = 30

    def describe(self) -> str:
        """`mqtts://user@host:port` for log lines (never the password)."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """The Home Assistant discovery export (opt-in)."""

    enabled: bool = False
    discovery_prefix: str = "homeassistant"
    base_topic: str = "homehub"
    exclude_integrations: tuple[str, ...] = ("mqtt",)


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """The whole `[integrations.mqtt]` section."""

    broker: BrokerSettings = field(default_factory=BrokerSettings)
    families: tuple[str, ...] = FAMILIES
    zigbee2mqtt_topic: str = "zigbee2mqtt"
    tasmota_discovery: str = "tasmota/discovery"
    shelly_prefixes: tuple[str, ...] = ()
    adopt: str = "ask"
    max_payload_bytes: int = 256 * 1024
    # Zigbee2MQTT's device list carries every device's exposes: a big network is megabytes.
    max_inventory_bytes: int = 32 * 1024 * 1024
    request_timeout_s: float = 5.0
    publish: PublishSettings = field(default_factory=PublishSettings)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any]) -> MqttConfig:
        """Validate a config section; MqttConfigError names the bad key and what to write."""
        where = "integrations.mqtt"
        broker_keys = {f.name for f in fields(BrokerSettings)}
        own_keys = {f.name for f in fields(cls)} - {"broker"}
        _warn_unknown(section, broker_keys | own_keys, where)
        d = BrokerSettings()

        def opt(key: str) -> str | None:
            return _get(section, key, str, "", where) or None

        broker = BrokerSettings(
            host=_get(section, "host", str, d.host, where),
            port=_get(section, "port", int, d.port, where),
            username=opt("username"),
            password=opt("password"),
            tls=_get(section, "tls", bool, d.tls, where),
            ca_file=opt("ca_file"),
            cert_file=opt("cert_file"),
            key_file=opt("key_file"),
            tls_insecure=_get(section, "tls_insecure", bool, d.tls_insecure, where),
            client_id=_get(section, "client_id", str, d.client_id, where),
            keepalive_s=_get(section, "keepalive_s", int, d.keepalive_s, where),
        )
        if not 0 < broker.port < 65536:
            raise MqttConfigError(f"[{where}] port must be 1-65535, got {broker.port}")
        if broker.password and not broker.username:
            raise MqttConfigError(f"[{where}] password is set but username is not")
        if (broker.cert_file is None) != (broker.key_file is None):
            raise MqttConfigError(f"[{where}] cert_file and key_file go together")
        families = _strings(section, "families", FAMILIES, where)
        wrong = [f for f in families if f not in FAMILIES]
        if wrong:
            raise MqttConfigError(
                f"[{where}] families has {', '.join(wrong)}; choose from {', '.join(FAMILIES)}"
            )
        c = cls()
        out = cls(
            broker=broker,
            families=families,
            zigbee2mqtt_topic=_get(section, "zigbee2mqtt_topic", str, c.zigbee2mqtt_topic,
                                   where).strip("/"),
            tasmota_discovery=_get(section, "tasmota_discovery", str, c.tasmota_discovery,
                                   where).strip("/"),
            shelly_prefixes=_strings(section, "shelly_prefixes", (), where),
            adopt=_get(section, "adopt", str, c.adopt, where),
            max_payload_bytes=_get(section, "max_payload_bytes", int, c.max_payload_bytes,
                                   where),
            max_inventory_bytes=_get(section, "max_inventory_bytes", int,
                                     c.max_inventory_bytes, where),
            request_timeout_s=_get(section, "request_timeout_s", float, c.request_timeout_s,
                                   where),
            publish=_publish(section.get("publish", {})),
        )
        if out.adopt not in ("ask", "auto"):
            raise MqttConfigError(f'[{where}] adopt must be "ask" or "auto", not {out.adopt!r}')
        if out.max_payload_bytes <= 0 or out.max_inventory_bytes <= 0:
            raise MqttConfigError(f"[{where}] max_payload_bytes must be positive")
        if out.request_timeout_s <= 0:
            raise MqttConfigError(f"[{where}] request_timeout_s must be positive")
        return out


def _publish(section: Any) -> PublishSettings:
    where = "integrations.mqtt.publish"
    if not isinstance(section, Mapping):
        raise MqttConfigError(f"[{where}] must be a table")
    _warn_unknown(section, {f.name for f in fields(PublishSettings)}, where)
    d = PublishSettings()
    out = PublishSettings(
        enabled=_get(section, "enabled", bool, d.enabled, where),
        discovery_prefix=_get(section, "discovery_prefix", str, d.discovery_prefix,
                              where).strip("/"),
        base_topic=_get(section, "base_topic", str, d.base_topic, where).strip("/"),
        exclude_integrations=_strings(section, "exclude_integrations",
                                      d.exclude_integrations, where),
    )
    for key in ("discovery_prefix", "base_topic"):
        value = getattr(out, key)
        if not value or any(c in value for c in "#+"):
            raise MqttConfigError(f"[{where}] {key} must be a topic without wildcards")
    return out
