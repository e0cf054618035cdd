"""MQTT: Zigbee2MQTT, Tasmota and Shelly Gen2 devices in; the hub's devices out as Home
Assistant MQTT discovery (opt-in). See `integrations.mqtt.config` for `[integrations.mqtt]`."""

from integrations.mqtt.config import BrokerSettings, MqttConfig, PublishSettings
from integrations.mqtt.integration import MqttIntegration
from integrations.mqtt.link import Inbound, LinkState, MqttLink

__all__ = [
    "BrokerSettings",
    "Inbound",
    "LinkState",
    "MqttConfig",
    "MqttIntegration",
    "MqttLink",
    "PublishSettings",
]
