"""Errors of the MQTT integration, under the integrations' root (`integrations.errors`).

IntegrationError
 ├── MqttConfigError          [integrations.mqtt] is wrong; the message names the key
 ├── DeviceUnreachable
 │    └── BrokerUnavailable   not connected to the broker now (commands stay pending)
 └── ProtocolError
      └── PayloadError        a message that does not parse or does not fit (logged, dropped)
"""

from integrations.errors import DeviceUnreachable, IntegrationError, ProtocolError


class MqttConfigError(IntegrationError):
    """The configuration section is wrong; the message says what to write instead."""


class BrokerUnavailable(DeviceUnreachable):
    """The hub is not connected to the MQTT broker at the moment."""


class PayloadError(ProtocolError):
    """A message payload that is not what its topic promises (bad JSON, wrong types)."""
