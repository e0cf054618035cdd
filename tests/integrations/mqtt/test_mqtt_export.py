"""The hub's devices out as Home Assistant MQTT discovery: a consumer written from HA's format
controls the emulated ECHONET air conditioner; QoS 1 duplicates are applied once; a broker
restart costs a reconnect and resubscribe, and no command is sent twice."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from ha_consumer import HaConsumer
from mqtt_testkit import (
    BrokerAddress,
    prefix,
    publish_qos1_retransmitted,
    reported,
    until,
    wait_for,
)

from hub import testing
from hub.cli.mqtt_export import MqttExportComponent, mqtt_export
from hub.components import default_components
from hub.config import HubConfig
from hub.model import PropertySpec, ValueType
from hub.model.vocabulary import spec_for
from integrations.echonet.emulator import Aircon, EchonetNode
from integrations.echonet.integration import EchonetIntegration
from integrations.mqtt.broker import MosquittoBroker
from integrations.mqtt.config import MqttConfig
from integrations.mqtt.emulators.zigbee2mqtt import Zigbee2MqttBridge
from integrations.mqtt.errors import PayloadError
from integrations.mqtt.ha_discovery import ExportedDevice, entities, parse_command, state_payloads
from integrations.mqtt.integration import MqttIntegration
from integrations.mqtt.link import Backoff, Inbound

HUB = "127.0.46.2"
NODE = "127.0.46.10"


class CountingAircon(Aircon):
    """The emulated air conditioner, counting the Sets it accepts per EPC."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: dict[int, int] = {}

    def on_write(self, epc: int) -> None:
        self.writes[epc] = self.writes.get(epc, 0) + 1


def _aircon_view(**reported_values: Any) -> ExportedDevice:
    props = {n: spec_for(n, writable=n not in ("temperature",))
             for n in ("power", "mode", "target_temperature", "fan_speed", "temperature")}
    props["power_w"] = spec_for("power_w")
    props["raw.c0"] = PropertySpec("raw.c0", ValueType.STRING)
    return ExportedDevice(id="echonet-x.y-013001", name="Aircon", integration="echonet",
                          properties=props, room="Living", reported=reported_values)


def test_an_air_conditioner_is_one_climate_entity_plus_sensors() -> None:
    device = _aircon_view(power=False, mode="cool", target_temperature=26.0, temperature=28.0)
    by_component = {e.component: e for e in entities(device, "homehub", "0.1")}
    assert set(by_component) == {"climate", "sensor"}
    climate = by_component["climate"].config
    assert climate["modes"] == ["off", "auto", "cool", "heat", "dry", "fan_only"]
    assert climate["mode_command_topic"] == "homehub/echonet-x_y-013001/hvac_mode/set"
    assert (climate["min_temp"], climate["max_temp"], climate["temp_step"]) == (0, 50, 0.5)
    assert climate["unique_id"] == "homehub_echonet-x_y-013001_climate"
    assert climate["device"]["suggested_area"] == "Living"
    assert by_component["sensor"].config["device_class"] == "power"
    states = state_payloads(device, "homehub")
    assert states["homehub/echonet-x_y-013001/hvac_mode"] == "off"
    assert states["homehub/echonet-x_y-013001/target_temperature"] == "26"
    on = state_payloads(_aircon_view(power=True, mode="fan"), "homehub")
    assert on["homehub/echonet-x_y-013001/hvac_mode"] == "fan_only"
    assert parse_command(device, "hvac_mode", b"off") == {"power": False}
    assert parse_command(device, "hvac_mode", b"dry") == {"power": True, "mode": "dry"}
    assert parse_command(device, "target_temperature", b"24.5") == {"target_temperature": 24.5}
    for prop, payload in (("hvac_mode", b"turbo"), ("temperature", b"3"),
                          ("target_temperature", b"warm")):
        with pytest.raises(PayloadError):
            parse_command(device, prop, payload)


def test_the_export_is_opt_in() -> None:
    base = HubConfig(data_dir=Path("/nonexistent"), advertise=False)
    assert mqtt_export(base) is None
    assert not any(isinstance(c, MqttExportComponent) for c in default_components(base))
    enabled = base.with_overrides(integrations={"mqtt": {"publish": {"enabled": True}}})
    assert any(isinstance(c, MqttExportComponent) for c in default_components(enabled))
    assert mqtt_export(base.with_overrides(integrations={"mqtt": {}})) is None
    component = mqtt_export(base.with_overrides(
        integrations={"mqtt": {"publish": {"enabled": True}}}))
    assert isinstance(component, MqttExportComponent)


def _section(broker: BrokerAddress, tag: str, **extra: Any) -> dict[str, Any]:
    return broker.section(**{"families": [], "publish": {
        "enabled": True, "discovery_prefix": f"{tag}/homeassistant",
        "base_topic": f"{tag}/hub"}, **extra})


async def test_ha_consumer_controls_the_echonet_aircon_and_qos1_duplicates_apply_once(
        broker: BrokerAddress, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tag = prefix()
    aircon = CountingAircon(1)
    node = EchonetNode(bind=NODE, objects=[aircon])
    await node.start()
    section = _section(broker, tag)
    export = MqttExportComponent(MqttConfig.from_mapping(section))
    config = {"integrations": {"echonet": {
        "bind": HUB, "hosts": [NODE], "multicast": False, "poll_interval_s": 0.3,
        "timeout_s": 1.0, "retries": 1}, "mqtt": section}}
    consumer = HaConsumer(broker.host, broker.port, prefix=f"{tag}/homeassistant")
    await consumer.start()
    try:
        async with testing.running_hub(tmp_path, integrations=[EchonetIntegration()],
                                       config=config, components=[export]) as rh:
            body = await until(rh.client, "/api/v1/devices", lambda b: len(b["devices"]) == 1,
                               "the air conditioner")
            device = body["devices"][0]
            climate = await wait_for(lambda: consumer.find("climate", device["name"]), 15,
                                     "a climate entity in Home Assistant's discovery")
            assert "cool" in climate.config["modes"]
            await wait_for(lambda: consumer.available(climate), 10, "entity available")
            await wait_for(lambda: consumer.state(climate, "mode_state_topic") == "off", 10,
                           "mode state off (the unit starts off)")
            await wait_for(lambda: consumer.state(climate, "current_temperature_topic"), 10,
                           "room temperature")

            await consumer.command(climate, "mode_command_topic", "cool")
            await consumer.command(climate, "temperature_command_topic", "24")
            await wait_for(lambda: consumer.state(climate, "mode_state_topic") == "cool"
                           and consumer.state(climate, "temperature_state_topic") == "24", 15,
                           "HA sees the unit cooling at 24")
            assert aircon.values[0x80] == b"\x30" and aircon.values[0xB0] == b"\x42"
            assert aircon.values[0xB3] == bytes([24])
            shadow = (await rh.client.get(f"/api/v1/devices/{device['id']}/shadow")).json()
            assert reported(shadow, "mode") == "cool" and not shadow["delta"]

            # QoS 1 duplicate delivery: the broker really forwards both copies ...
            seen: list[bytes] = []
            async with aiomqtt.Client(broker.host, broker.port) as spy:
                await spy.subscribe(climate.config["mode_command_topic"], qos=1)
                writes_before = aircon.writes.get(0xB0, 0)
                await publish_qos1_retransmitted(broker.host, broker.port,
                                                 climate.config["mode_command_topic"], b"heat")
                async with asyncio.timeout(5):
                    async for message in spy.messages:
                        seen.append(bytes(message.payload))  # type: ignore[arg-type]
                        if len(seen) == 2:
                            break
            assert seen == [b"heat", b"heat"]
            # ... and the unit is told once.
            await wait_for(lambda: consumer.state(climate, "mode_state_topic") == "heat", 15,
                           "heating")
            assert export.export is not None
            await wait_for(lambda: export.export is not None and export.export.duplicates >= 1,
                           5, "the duplicate recognised")
            assert aircon.writes[0xB0] - writes_before == 1
            commands = (await rh.hub.db.fetchall(
                "SELECT request FROM commands WHERE device_id=?", (device["id"],)))
            assert [json.loads(r[0])["values"] for r in commands].count(
                {"power": True, "mode": "heat"}) == 1

            # A retained command (delivered on a new subscription) is stale: ignored.
            caplog.set_level(logging.WARNING, logger="integrations.mqtt.link")
            await export.export.link.dispatch(Inbound(climate.config["mode_command_topic"],
                                                      b"dry", retain=True, qos=1))
            assert "retained command" in caplog.text
            await consumer.command(climate, "temperature_command_topic", "25")
            await wait_for(lambda: aircon.values[0xB3] == bytes([25]), 10, "later command")
            assert aircon.values[0xB0] == b"\x43"  # still heating, not drying
    finally:
        await consumer.stop()
        await node.stop()


async def test_broker_restart_reconnects_resubscribes_and_sends_nothing_twice(
        own_broker: MosquittoBroker, tmp_path: Path) -> None:
    await own_broker.start()
    address = BrokerAddress(own_broker.host, own_broker.port)
    tag = prefix()
    aircon = CountingAircon(1)
    node = EchonetNode(bind="127.0.46.11", objects=[aircon])
    await node.start()
    bridge = Zigbee2MqttBridge(address.settings(), "zigbee2mqtt", [("lamp", "bulb")])
    await bridge.start()
    section = _section(address, tag, families=["zigbee2mqtt"], adopt="auto")
    export = MqttExportComponent(MqttConfig.from_mapping(section))
    export_backoff = Backoff(0.1, 0.5)
    config = {"integrations": {"echonet": {
        "bind": "127.0.46.3", "hosts": ["127.0.46.11"], "multicast": False,
        "poll_interval_s": 0.3, "timeout_s": 1.0, "retries": 1}, "mqtt": section}}
    integration = MqttIntegration(backoff=Backoff(0.1, 0.5))
    consumer = HaConsumer(address.host, address.port, prefix=f"{tag}/homeassistant")
    try:
        async with testing.running_hub(tmp_path, integrations=[EchonetIntegration(),
                                                               integration],
                                       config=config, components=[export]) as rh:
            assert export.export is not None
            export.export.link.backoff = export_backoff
            body = await until(rh.client, "/api/v1/devices", lambda b: len(b["devices"]) == 2,
                               "aircon and lamp")
            ids = {d["integration"]: d["id"] for d in body["devices"]}
            names = {d["integration"]: d["name"] for d in body["devices"]}
            await consumer.start()
            climate = await wait_for(lambda: consumer.find("climate", names["echonet"]), 15,
                                     "climate entity")
            await consumer.command(climate, "mode_command_topic", "cool")
            resp = await rh.client.put(f"/api/v1/devices/{ids['mqtt']}/desired",
                                       json={"values": {"power": True}})
            assert resp.status_code == 202
            await until(rh.client, f"/api/v1/devices/{ids['mqtt']}/shadow",
                        lambda b: reported(b, "power") is True and not b["delta"], "lamp on")
            await wait_for(lambda: aircon.values[0xB0] == b"\x42", 10, "aircon cooling")
            await until(rh.client, f"/api/v1/devices/{ids['echonet']}/shadow",
                        lambda b: not b["delta"], "aircon command confirmed")
            aircon_writes = dict(aircon.writes)
            lamp_sets = list(bridge.devices["lamp"].sets)
            await consumer.stop()

            await own_broker.stop()
            await until(rh.client, f"/api/v1/devices/{ids['mqtt']}", lambda b: not b["online"],
                        "the lamp is offline while the broker is down")
            # A command while the broker is down waits (offline queueing) ...
            resp = await rh.client.put(f"/api/v1/devices/{ids['mqtt']}/desired",
                                       json={"values": {"brightness": 20}})
            assert resp.status_code == 202
            await own_broker.start()
            await wait_for(lambda: integration.link.connected and export.export is not None
                           and export.export.link.connected, 20, "both links back")
            # ... and goes out once when it is back.
            await until(rh.client, f"/api/v1/devices/{ids['mqtt']}/shadow",
                        lambda b: reported(b, "brightness") == 20 and not b["delta"],
                        "queued brightness applied after the restart")
            assert integration.link.connections == 2 and export.export.link.connections == 2

            # Resubscribed: a new Home Assistant sees the entities again and can command.
            consumer = HaConsumer(address.host, address.port, prefix=f"{tag}/homeassistant")
            await consumer.start()
            climate = await wait_for(lambda: consumer.find("climate", names["echonet"]), 15,
                                     "climate entity republished after the restart")
            await wait_for(lambda: consumer.state(climate, "mode_state_topic") == "cool", 10,
                           "state republished")
            await consumer.command(climate, "temperature_command_topic", "23")
            await wait_for(lambda: aircon.values[0xB3] == bytes([23]), 10, "command after")

            # Nothing was sent twice: the lamp got exactly the one queued command, the
            # aircon only the new set point.
            assert bridge.devices["lamp"].sets == [*lamp_sets, {"brightness": 51}]
            new_writes = {epc: n - aircon_writes.get(epc, 0) for epc, n in aircon.writes.items()
                          if n != aircon_writes.get(epc, 0)}
            assert new_writes == {0xB3: 1}
    finally:
        await consumer.stop()
        await bridge.stop()
        await node.stop()
