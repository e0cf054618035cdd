"""Tasmota: the emulator's discovery checked by hatasmota (Home Assistant's own Tasmota parser),
our topics checked against hatasmota's, and devices discovered, adopted, read and controlled
through the hub API."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mqtt_testkit import BrokerAddress, prefix, reported, until

from hub import testing
from integrations.mqtt.emulators.tasmota import TasmotaEmulator
from integrations.mqtt.errors import PayloadError
from integrations.mqtt.integration import MqttIntegration
from integrations.mqtt.link import Backoff
from integrations.mqtt.tasmota_mapping import CMND, STAT, TELE, map_device

discovery = pytest.importorskip("hatasmota.discovery")


@pytest.mark.parametrize("kind", ["plug", "bulb", "th", "dual"])
def test_hatasmota_accepts_the_emulator_and_agrees_on_topics(broker: BrokerAddress,
                                                             kind: str) -> None:
    emulator = TasmotaEmulator(broker.settings(), f"{kind}_1", kind)
    config = emulator.device.discovery()
    message = discovery.TasmotaDiscoveryMsg(config)  # voluptuous schema: raises if wrong
    sensors = discovery.TASMOTA_SENSOR_DISCOVERY_SCHEMA(
        {"sn": emulator.device.sensor_payload(), "ver": 1})
    ours = map_device(config, emulator.device.sensor_payload(), emulator.device.mac)
    entities = [e for e, _ in (*discovery.get_switch_entities(message),
                               *discovery.get_light_entities(message)) if e is not None]
    assert len(entities) == len(ours.outputs)
    for entity in entities:
        assert entity.command_topic == ours.topic_for(CMND, "")
        assert entity.result_topic == ours.topic_for(STAT, "RESULT")
        assert entity.state_topic == ours.topic_for(TELE, "STATE")
        assert entity.availability_topic == ours.topic_for(TELE, "LWT")
        assert entity.poll_topic == ours.topic_for(CMND, "STATE")
        assert (entity.state_power_on, entity.state_power_off) == ours.state_text[1::-1]
    by_path = {tuple(c.value_path): c for c, _ in discovery.get_sensor_entities(sensors,
                                                                                message)}
    for f in ours.fields:
        if f.name in ("power_w", "energy_kwh", "temperature", "humidity"):
            hass = by_path[f.path]
            assert hass.state_topic1 == ours.topic_for(TELE, "SENSOR")
            assert hass.unit in ("W", "kWh", "C", "%")
    if kind == "bulb":
        light = entities[0]
        assert (light.min_mireds, light.max_mireds) == (153, 500)
        assert {f.name for f in ours.fields} >= {"power", "brightness", "colour_temp"}


def test_discovery_problems_are_payload_errors() -> None:
    base = {"ver": 1, "mac": "A4CF12000001", "dn": "x", "t": "x", "ft": "%prefix%/%topic%/",
            "rl": [1]}
    with pytest.raises(PayloadError, match="version"):
        map_device({**base, "ver": 2})
    with pytest.raises(PayloadError, match="does not match"):
        map_device(base, None, "A4CF12000002")
    with pytest.raises(PayloadError, match="rl must be"):
        map_device({**base, "rl": "1"})
    device = map_device({**base, "ft": "%topic%/%prefix%/"})
    assert device.topic_for(CMND, "POWER1") == "x/cmnd/POWER1"


async def test_tasmota_devices_through_the_hub_api(broker: BrokerAddress, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    tag = prefix()
    disc = f"{tag}/tasmota/discovery"
    emulators = {kind: TasmotaEmulator(broker.settings(), f"{tag}_{kind}", kind,
                                       discovery_prefix=disc)
                 for kind in ("plug", "bulb", "th", "dual")}
    for emulator in emulators.values():
        await emulator.start()
    config = {"integrations": {"mqtt": broker.section(families=["tasmota"],
                                                      tasmota_discovery=disc)}}
    try:
        async with testing.running_hub(tmp_path, integrations=[MqttIntegration(
                backoff=Backoff(0.1, 0.5))], config=config) as rh:
            found = await until(rh.client, "/api/v1/discovered",
                                lambda b: len(b["discovered"]) == 4, "four Tasmota devices")
            by_topic = {d["properties"]["topic"]: d for d in found["discovered"]}
            for kind, emulator in emulators.items():
                key = by_topic[emulator.topic]["key"]
                resp = await rh.client.post(f"/api/v1/discovered/{key}/adopt",
                                            json={"name": f"Tasmota {kind}", "room": "Lab"})
                assert resp.status_code == 200, resp.text
            body = await until(rh.client, "/api/v1/devices", lambda b: len(b["devices"]) == 4,
                               "four adopted")
            ids = {d["name"]: d["id"] for d in body["devices"]}

            plug = ids["Tasmota plug"]
            shadow = await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                                 lambda b: reported(b, "energy_kwh") == 3.412, "plug energy")
            assert reported(shadow, "power") is False and reported(shadow, "rssi") == -62
            resp = await rh.client.put(f"/api/v1/devices/{plug}/desired",
                                       json={"values": {"power": True}})
            command = resp.json()["command_id"]
            await until(rh.client, f"/api/v1/commands/{command}",
                        lambda b: b["status"] == "confirmed", "plug on confirmed")
            assert emulators["plug"].device.commands[-1] == ("POWER1", "ON")
            await emulators["plug"].set_sensor("ENERGY", Power=1234.5, Total=3.5)
            await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                        lambda b: reported(b, "power_w") == 1234.5, "plug power telemetry")
            await emulators["plug"].press()  # the button on the plug turns it off
            await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                        lambda b: reported(b, "power") is False, "button press seen")

            bulb = ids["Tasmota bulb"]
            resp = await rh.client.put(f"/api/v1/devices/{bulb}/desired", json={
                "values": {"power": True, "brightness": 30, "colour_temp": 2700}})
            command = resp.json()["command_id"]
            await until(rh.client, f"/api/v1/commands/{command}",
                        lambda b: b["status"] == "confirmed", "bulb confirmed")
            bulb_device = emulators["bulb"].device
            assert (bulb_device.dimmer, bulb_device.ct, bulb_device.power) == (30, 370, [True])
            assert [c for c, _ in bulb_device.commands if c != "STATE"][-3:] == [
                "Dimmer", "CT", "POWER1"]

            th = ids["Tasmota th"]
            await until(rh.client, f"/api/v1/devices/{th}/shadow",
                        lambda b: reported(b, "temperature") == 21.4
                        and reported(b, "humidity") == 52.1, "AM2301 readings")
            dual = ids["Tasmota dual"]
            resp = await rh.client.put(f"/api/v1/devices/{dual}/desired",
                                       json={"values": {"power.ch2": True}})
            await until(rh.client, f"/api/v1/devices/{dual}/shadow",
                        lambda b: reported(b, "power.ch2") is True
                        and reported(b, "power") is False, "second relay on")
            assert emulators["dual"].device.power == [False, True]

            # A garbled RESULT: one log line, nothing changes, the next message still works.
            caplog.set_level(logging.WARNING, logger="integrations.mqtt.link")
            await emulators["dual"].link.publish(f"stat/{emulators['dual'].topic}/RESULT",
                                                 b'{"POWER1": 7}')
            await emulators["dual"].press(0)
            await until(rh.client, f"/api/v1/devices/{dual}/shadow",
                        lambda b: reported(b, "power") is True, "first relay by button")
            assert sum("POWER1" in r.message for r in caplog.records) == 1

            # The will: the device drops off; a command waits and is applied on return.
            await emulators["plug"].link.drop()  # power loss: the broker sends the will
            await until(rh.client, f"/api/v1/devices/{plug}", lambda b: not b["online"],
                        "plug offline by its will")
            resp = await rh.client.put(f"/api/v1/devices/{plug}/desired",
                                       json={"values": {"power": True}})
            assert resp.status_code == 202
            emulators["plug"] = TasmotaEmulator(broker.settings(), f"{tag}_plug", "plug",
                                                mac=emulators["plug"].device.mac,
                                                discovery_prefix=disc)
            await emulators["plug"].start()
            await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                        lambda b: reported(b, "power") is True and not b["delta"],
                        "queued command applied on return")
            assert emulators["plug"].device.commands.count(("POWER1", "ON")) == 1
    finally:
        for emulator in emulators.values():
            if emulator.link.connected:
                await emulator.clear()
            await emulator.stop()
