"""Zigbee2MQTT: exposes mapping (examples from Zigbee2MQTT's documentation) and devices
discovered, adopted, read and controlled through the hub API against the emulated bridge."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from mqtt_testkit import BrokerAddress, prefix, reported, until, wait_for

from hub import testing
from integrations.mqtt.emulators.zigbee2mqtt import Zigbee2MqttBridge, ZigbeeDevice
from integrations.mqtt.errors import PayloadError
from integrations.mqtt.integration import MqttIntegration
from integrations.mqtt.link import Backoff
from integrations.mqtt.zigbee2mqtt_mapping import map_device, map_devices, parse_availability

# From Zigbee2MQTT's documentation ("Exposes": the Light and Climate examples).
DOC_LIGHT = {"type": "light", "features": [
    {"type": "binary", "name": "state", "property": "state", "value_on": "ON",
     "value_off": "OFF", "value_toggle": "TOGGLE", "access": 7},
    {"type": "numeric", "name": "brightness", "property": "brightness", "value_min": 0,
     "value_max": 254, "access": 7},
    {"type": "numeric", "name": "color_temp", "property": "color_temp", "access": 7},
    {"type": "composite", "name": "color_xy", "property": "color", "features": [
        {"type": "numeric", "name": "x", "property": "x", "access": 7},
        {"type": "numeric", "name": "y", "property": "y", "access": 7}]}]}
DOC_CLIMATE = {"type": "climate", "features": [
    {"type": "numeric", "name": "occupied_heating_setpoint",
     "property": "occupied_heating_setpoint", "value_min": 7, "value_max": 30,
     "value_step": 0.5, "access": 7, "unit": "°C"},
    {"type": "numeric", "name": "local_temperature", "property": "local_temperature",
     "access": 3, "unit": "°C"},
    {"type": "enum", "name": "system_mode", "property": "system_mode",
     "values": ["off", "auto", "heat", "cool"], "access": 7},
    {"type": "enum", "name": "preset", "property": "preset", "values": ["hold", "program"],
     "access": 7}]}


def _entry(name: str, exposes: list[Any], ieee: str = "0x00158d00018255df") -> dict[str, Any]:
    return {"ieee_address": ieee, "type": "Router", "friendly_name": name, "supported": True,
            "interview_completed": True,
            "definition": {"model": "M", "vendor": "V", "description": "D", "exposes": exposes}}


def test_documented_light_maps_onto_the_vocabulary() -> None:
    device = map_device(_entry("my_bulb", [DOC_LIGHT]))
    assert device is not None
    specs = {f.name: f.spec for f in device.fields}
    assert set(specs) == {"power", "brightness", "colour_temp", "raw.color"}
    assert specs["power"].writable and specs["brightness"].writable
    assert not specs["raw.color"].writable
    values, problems = device.decode({"state": "ON", "brightness": 127, "color_temp": 370,
                                      "color": {"x": 0.46, "y": 0.41}})
    assert problems == []
    assert values == {"power": True, "brightness": 50, "colour_temp": 2703,
                      "raw.color": '{"x":0.46,"y":0.41}'}
    assert device.encode({"power": False, "brightness": 100, "colour_temp": 2700}) == {
        "state": "OFF", "brightness": 254, "color_temp": 370}
    assert set(device.gettable) == {"state", "brightness", "color_temp"}


def test_documented_climate_maps_power_mode_and_setpoint() -> None:
    device = map_device(_entry("trv", [DOC_CLIMATE]))
    assert device is not None
    specs = {f.name: f.spec for f in device.fields}
    assert specs["mode"].choices == ("auto", "heat", "cool")
    assert (specs["target_temperature"].minimum, specs["target_temperature"].maximum,
            specs["target_temperature"].step) == (7, 30, 0.5)
    assert "raw.preset" in specs and not specs["temperature"].writable
    assert device.decode({"system_mode": "off", "local_temperature": 19.5})[0] == {
        "power": False, "temperature": 19.5}
    assert device.decode({"system_mode": "cool"})[0] == {"power": True, "mode": "cool"}
    assert device.encode({"power": False}) == {"system_mode": "off"}
    assert device.encode({"power": True}, last_mode="heat") == {"system_mode": "heat"}
    assert device.encode({"power": True, "mode": "cool",
                          "target_temperature": 21.5}) == {
        "system_mode": "cool", "occupied_heating_setpoint": 21.5}


def test_unknown_and_bad_exposes_become_raw_or_are_skipped_not_crashes() -> None:
    weird = [{"type": "numeric", "name": "co2", "property": "co2", "access": 1, "unit": "ppm"},
             {"type": "list", "name": "schedule", "property": "schedule", "access": 3,
              "item_type": {"type": "numeric", "name": "t"}},
             {"type": "hologram", "property": "h", "access": 1},
             "not an object",
             {"type": "enum", "name": "identify", "property": "identify", "access": 2,
              "values": ["blink"]}]
    device = map_device(_entry("odd", weird))
    assert device is not None
    assert [f.name for f in device.fields] == ["raw.co2", "raw.schedule", "raw.h"]
    values, problems = device.decode({"co2": 412, "schedule": [1, 2]})
    assert values == {"raw.co2": "412", "raw.schedule": "[1,2]"} and not problems
    devices, problems = map_devices([_entry("ok", weird), {"friendly_name": "x"}, 7,
                                     {"type": "Coordinator", "ieee_address": "0x0",
                                      "friendly_name": "Coordinator", "definition": None}])
    assert [d.friendly_name for d in devices] == ["ok"]
    assert len(problems) == 2
    with pytest.raises(PayloadError, match="must be a JSON list"):
        map_devices({"devices": []})


def test_wrong_types_are_reported_and_the_rest_still_applies() -> None:
    device = map_device(_entry("bulb", [DOC_LIGHT]))
    assert device is not None
    values, problems = device.decode({"state": "MAYBE", "brightness": "bright",
                                      "color_temp": 250})
    assert values == {"colour_temp": 4000}
    assert len(problems) == 2 and "MAYBE" in problems[0] and "bright" in problems[1]


@pytest.mark.parametrize(("payload", "expected"), [
    (b"online", True), (b'{"state":"offline"}', False), (b"", None)])
def test_availability_in_both_documented_forms(payload: bytes, expected: bool | None) -> None:
    assert parse_availability(payload) is expected


def test_availability_garbage_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="online"):
        parse_availability(b"maybe")


DEVICES = [("living_bulb", "bulb"), ("kettle_plug", "plug"), ("radiator", "thermostat"),
           ("bedroom_sensor", "climate_sensor"), ("front_door", "door"),
           ("hall_motion", "motion")]


async def test_zigbee2mqtt_devices_through_the_hub_api(broker: BrokerAddress, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    base = f"{prefix()}/zigbee2mqtt"
    bridge = Zigbee2MqttBridge(broker.settings(), base, DEVICES)
    await bridge.start()
    integration = MqttIntegration(backoff=Backoff(0.1, 0.5))
    config = {"integrations": {"mqtt": broker.section(
        families=["zigbee2mqtt"], zigbee2mqtt_topic=base)}}
    try:
        async with testing.running_hub(tmp_path, integrations=[integration],
                                       config=config) as rh:
            found = await until(rh.client, "/api/v1/discovered",
                                lambda b: len(b["discovered"]) == 6, "six offered devices")
            by_name = {d["name"]: d for d in found["discovered"]}
            assert by_name["living_bulb"]["model"] == "IKEA LED1545G12"
            assert (await rh.client.get("/api/v1/devices")).json()["devices"] == []

            for name, room in (("living_bulb", "Living"), ("kettle_plug", "Kitchen"),
                               ("radiator", "Living"), ("front_door", "Hall")):
                resp = await rh.client.post(
                    f"/api/v1/discovered/{by_name[name]['key']}/adopt",
                    json={"name": name.replace("_", " ").title(), "room": room})
                assert resp.status_code == 200, resp.text
            devices = await until(rh.client, "/api/v1/devices",
                                  lambda b: len(b["devices"]) == 4, "four adopted devices")
            ids = {d["name"]: d["id"] for d in devices["devices"]}
            bulb = ids["Living Bulb"]
            assert {d["room"] for d in devices["devices"]} == {"Living", "Kitchen", "Hall"}

            # Read: the adopted bulb was asked (/get) and its state is reported.
            shadow = await until(rh.client, f"/api/v1/devices/{bulb}/shadow",
                                 lambda b: reported(b, "brightness") == 100, "bulb state")
            assert reported(shadow, "power") is False
            assert reported(shadow, "colour_temp") == 2703

            # Control: one desired write -> one /set -> confirmed by the state message.
            resp = await rh.client.put(f"/api/v1/devices/{bulb}/desired",
                                       json={"values": {"power": True, "brightness": 40,
                                                        "colour_temp": 3000}})
            assert resp.status_code == 202, resp.text
            command = resp.json()["command_id"]
            await until(rh.client, f"/api/v1/commands/{command}",
                        lambda b: b["status"] == "confirmed", "bulb command confirmed")
            assert bridge.devices["living_bulb"].sets == [
                {"state": "ON", "brightness": 102, "color_temp": 333}]

            radiator = ids["Radiator"]
            resp = await rh.client.put(f"/api/v1/devices/{radiator}/desired",
                                       json={"values": {"power": False}})
            assert resp.status_code == 202, resp.text
            await until(rh.client, f"/api/v1/devices/{radiator}/shadow",
                        lambda b: reported(b, "power") is False and not b["delta"],
                        "radiator off")
            assert bridge.devices["radiator"].state["system_mode"] == "off"
            resp = await rh.client.put(f"/api/v1/devices/{radiator}/desired",
                                       json={"values": {"power": True,
                                                        "target_temperature": 22.5}})
            await until(rh.client, f"/api/v1/devices/{radiator}/shadow",
                        lambda b: reported(b, "target_temperature") == 22.5
                        and reported(b, "mode") == "heat", "radiator back on, heating")

            # A sensor reading and a wall switch show up as reported changes.
            door = ids["Front Door"]
            await bridge.change("front_door", contact=False)
            await until(rh.client, f"/api/v1/devices/{door}/shadow",
                        lambda b: reported(b, "contact") is False, "door opened")
            plug = ids["Kettle Plug"]
            await bridge.change("kettle_plug", state="ON", power=1850.5, energy=12.5)
            await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                        lambda b: reported(b, "power_w") == 1850.5, "plug power")

            # Malformed and wrongly typed state: one log line each, the device unchanged.
            caplog.set_level(logging.WARNING, logger="integrations.mqtt.link")
            await bridge.link.publish(f"{base}/kettle_plug", b"{not json")
            await bridge.link.publish(f"{base}/kettle_plug",
                                      json.dumps({"power": "lots"}).encode())
            await bridge.change("kettle_plug", power=5.0)
            shadow = await until(rh.client, f"/api/v1/devices/{plug}/shadow",
                                 lambda b: reported(b, "power_w") == 5.0, "plug after junk")
            assert reported(shadow, "energy_kwh") == 12.5
            lines = [r.message for r in caplog.records if "kettle_plug" in r.message]
            assert len(lines) == 2 and "expected JSON" in lines[0] and "lots" in lines[1]

            # Availability: the device drops off the Zigbee network and comes back.
            await bridge.set_available("front_door", False)
            await until(rh.client, f"/api/v1/devices/{door}", lambda b: not b["online"],
                        "door offline")
            await bridge.set_available("front_door", True)
            await until(rh.client, f"/api/v1/devices/{door}", lambda b: b["online"],
                        "door online again")
            # A read-only reading cannot be desired.
            resp = await rh.client.put(f"/api/v1/devices/{door}/desired",
                                       json={"values": {"contact": True}})
            assert resp.status_code == 422
    finally:
        await bridge.clear()
        await bridge.stop()


async def test_adopted_devices_come_back_after_a_hub_restart(broker: BrokerAddress,
                                                             tmp_path: Path) -> None:
    base = f"{prefix()}/z2m"
    bridge = Zigbee2MqttBridge(broker.settings(), base, [("lamp", "bulb")])
    await bridge.start()
    config = {"integrations": {"mqtt": broker.section(families=["zigbee2mqtt"],
                                                      zigbee2mqtt_topic=base, adopt="auto")}}
    try:
        async with testing.running_hub(tmp_path, integrations=[MqttIntegration()],
                                       config=config) as rh:
            body = await until(rh.client, "/api/v1/devices", lambda b: len(b["devices"]) == 1,
                               "auto-adopted lamp")
            lamp = body["devices"][0]["id"]
        await bridge.stop()  # the bridge goes away while the hub is down
        integration = MqttIntegration()
        async with testing.running_hub(tmp_path, integrations=[integration],
                                       config=config) as rh:
            await wait_for(lambda: "zigbee2mqtt" in integration.families
                           and integration.families["zigbee2mqtt"].bridge_online is False,
                           10, "the retained bridge state (offline)")  # type: ignore[attr-defined]
            body = (await rh.client.get(f"/api/v1/devices/{lamp}")).json()
            assert body["online"] is False
            bridge = Zigbee2MqttBridge(broker.settings(), base, [("lamp", "bulb")])
            bridge.devices["lamp"].state["brightness"] = 127
            await bridge.start()
            await until(rh.client, f"/api/v1/devices/{lamp}/shadow",
                        lambda b: reported(b, "brightness") == 50, "lamp state after restart")
            assert bridge.devices["lamp"].sets == []
    finally:
        if bridge.link.connected:
            await bridge.clear()
        await bridge.stop()


async def test_a_large_bridge_is_asked_for_state_a_few_devices_at_a_time(
        broker: BrokerAddress, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # 300 devices online at once: every one is asked (/get) once, but the hub never has more
    # than GETS_IN_FLIGHT publishes queued, so aiomqtt's "There are N pending publish calls"
    # warning (one log line per queued publish past ten) never fires.
    base = f"{prefix()}/zigbee2mqtt"
    count = 300
    entries = [ZigbeeDevice(f"lamp_{i}", f"0x00158d0003{i:06x}", ("bulb", "plug")[i % 2],
                            {}).entry() for i in range(count)]
    asked: set[str] = set()
    config = {"integrations": {"mqtt": broker.section(
        families=["zigbee2mqtt"], zigbee2mqtt_topic=base, adopt="auto")}}
    caplog.set_level(logging.WARNING)
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(f"{base}/+/get", qos=0)

        async def listen() -> None:
            async for message in client.messages:
                asked.add(str(message.topic).split("/")[-2])

        listener = asyncio.create_task(listen())
        try:
            await client.publish(f"{base}/bridge/state", b'{"state":"online"}', qos=1,
                                 retain=True)
            async with testing.running_hub(tmp_path, integrations=[MqttIntegration()],
                                           config=config):
                await client.publish(f"{base}/bridge/devices", json.dumps(entries).encode(),
                                     qos=1, retain=True)
                await wait_for(lambda: len(asked) == count, 30, "a /get for every device")
        finally:
            listener.cancel()
            for topic in ("state", "devices"):
                await client.publish(f"{base}/bridge/{topic}", b"", qos=1, retain=True)
    assert asked == {f"lamp_{i}" for i in range(count)}
    flood = [r.getMessage() for r in caplog.records if "pending publish" in r.getMessage()]
    assert flood == [], f"{len(flood)} lines like {flood[:1]}"
