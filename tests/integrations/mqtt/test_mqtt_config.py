"""[integrations.mqtt]: good sections parse, bad ones say which key to fix; the hub knows the
integration by its section name."""

from __future__ import annotations

import pytest

from hub.app import load_integration
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.errors import MqttConfigError
from integrations.mqtt.integration import MqttIntegration


def test_defaults_and_a_full_section() -> None:
    assert MqttConfig.from_mapping({}).broker.describe() == "mqtt://127.0.0.1:1883"
    config = MqttConfig.from_mapping({
        "host": "broker.lan", "port": 8883, "username": "hub", "password": "pw", "tls": True,
        "ca_file": "/etc/ca.pem", "families": ["tasmota"], "adopt": "auto",
        "publish": {"enabled": True, "base_topic": "house/hub/"}})
    assert config.broker.describe() == "mqtts://hub@broker.lan:8883"
    assert "pw" not in config.broker.describe()
    assert config.families == ("tasmota",) and config.adopt == "auto"
    assert config.publish.enabled and config.publish.base_topic == "house/hub"


@pytest.mark.parametrize(("section", "words"), [
    ({"port": "1883"}, "port must be a int"),
    ({"port": 70000}, "port must be 1-65535"),
    ({"password": "x"}, "username is not"),
    ({"cert_file": "/c.pem"}, "cert_file and key_file go together"),
    ({"families": ["zigbee"]}, "choose from zigbee2mqtt, tasmota, shelly"),
    ({"families": "tasmota"}, "families must be a list"),
    ({"adopt": "always"}, 'adopt must be "ask" or "auto"'),
    ({"max_payload_bytes": 0}, "must be positive"),
    ({"publish": {"base_topic": "home/#"}}, "without wildcards"),
    ({"publish": "yes"}, "must be a table"),
])
def test_bad_sections_name_the_key(section: dict[str, object], words: str) -> None:
    with pytest.raises(MqttConfigError, match=words):
        MqttConfig.from_mapping(section)


def test_unknown_keys_are_warned_about_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    MqttConfig.from_mapping({"hots": "x"})
    assert "hots" in caplog.text


def test_the_hub_loads_it_by_section_name() -> None:
    assert isinstance(load_integration("mqtt"), MqttIntegration)
