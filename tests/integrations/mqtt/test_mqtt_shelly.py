"""Shelly Gen2: components mapped from GetStatus, and devices discovered, adopted, read and
controlled over JSON-RPC through the hub API against emulated devices."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from mqtt_testkit import BrokerAddress, reported, until

from hub import testing
from integrations.mqtt.emulators.shelly import KINDS, ShellyEmulator
from integrations.mqtt.errors import PayloadError
from integrations.mqtt.integration import MqttIntegration
from integrations.mqtt.link import Backoff
from integrations.mqtt.shelly_mapping import map_device, parse_frame


def _info(stem: str) -> dict[str, object]:
    return {"id": f"{stem}-a8032ab12345", "mac": "A8032AB12345", "model": "M", "gen": 2,
            "app": "App", "ver": "1.4.2"}


def test_components_map_onto_the_vocabulary() -> None:
    device = map_device("p", _info("shellyplus1pm"), KINDS["plus1pm"][3])
    specs = {f.name: f.spec for f in device.fields}
    assert specs["power"].writable and not specs["power_w"].writable
    assert "energy_kwh" in specs and "raw.input0_state" in specs
    values, problems = device.decode(KINDS["plus1pm"][3])
    assert not problems
    assert values["energy_kwh"] == 1.52342 and values["power"] is False
    assert values["raw.switch0_temperature_tc"] == "38.2"
    assert device.calls({"power": True}) == [("Switch.Set", {"id": 0, "on": True})]
    dimmer = map_device("d", _info("shellydimmerg3"), KINDS["dimmer"][3])
    assert dimmer.calls({"power": True, "brightness": 35}) == [
        ("Light.Set", {"id": 0, "on": True, "brightness": 35})]
    ht = map_device("h", _info("shellyplusht"), KINDS["plusht"][3])
    assert ht.decode(KINDS["plusht"][3])[0] == {
        "temperature": 22.4, "humidity": 47.1, "battery_soc": 84,
        "raw.devicepower0_battery_v": "5.9", "raw.devicepower0_external_present": "false"}


def test_two_switches_get_suffixed_names_and_bad_values_are_reported() -> None:
    status = {"switch:0": {"id": 0, "output": True}, "switch:1": {"id": 1, "output": False}}
    device = map_device("p", _info("shellyplus2pm"), status)
    assert [f.name for f in device.fields] == ["power", "power.switch1"]
    values, problems = device.decode({"switch:1": {"id": 1, "output": "yes"}})
    assert values == {} and "yes" in problems[0]
    with pytest.raises(PayloadError, match="Gen2"):
        map_device("x", {"id": "shelly1-x", "gen": 1}, {})
    with pytest.raises(PayloadError, match="neither"):
        parse_frame({"id": 3})


async def test_shelly_devices_through_the_hub_api(broker: BrokerAddress, tmp_path: Path) -> None:
    tag = secrets.token_hex(3).upper()
    emulators = {kind: ShellyEmulator(broker.settings(), kind, f"A8032A{tag}{i}0",
                                      name=f"Shelly {kind}")
                 for i, kind in enumerate(("plus1pm", "plusht", "dimmer"))}
    for emulator in emulators.values():
        await emulator.start()
    # Something else's online flag, and a "shelly" prefix nobody answers for.
    await emulators["dimmer"].link.publish(f"thermostat{tag}/online", b"true", retain=True)
    await emulators["dimmer"].link.publish(f"shellyghost{tag}/online", b"true", retain=True)
    config = {"integrations": {"mqtt": broker.section(families=["shelly"],
                                                      request_timeout_s=1.0)}}
    ours = {e.device_id for e in emulators.values()}
    try:
        async with testing.running_hub(tmp_path, integrations=[MqttIntegration(
                backoff=Backoff(0.1, 0.5))], config=config) as rh:
            found = await until(
                rh.client, "/api/v1/discovered",
                lambda b: ours <= {d["properties"]["id"] for d in b["discovered"]},
                "three Shelly devices offered")
            mine = [d for d in found["discovered"] if d["properties"]["id"] in ours]
            assert {d["model"] for d in mine} == {"Shelly Plus1PM", "Shelly PlusHT",
                                                  "Shelly DimmerG3"}
            for entry in mine:
                resp = await rh.client.post(f"/api/v1/discovered/{entry['key']}/adopt",
                                            json={"room": "Garage"})
                assert resp.status_code == 200, resp.text
            body = await until(rh.client, "/api/v1/devices", lambda b: len(b["devices"]) == 3,
                               "three adopted")
            ids = {d["name"]: d["id"] for d in body["devices"]}

            relay = ids["Shelly plus1pm"]
            await until(rh.client, f"/api/v1/devices/{relay}/shadow",
                        lambda b: reported(b, "energy_kwh") == 1.52342, "relay energy")
            resp = await rh.client.put(f"/api/v1/devices/{relay}/desired",
                                       json={"values": {"power": True}})
            command = resp.json()["command_id"]
            await until(rh.client, f"/api/v1/commands/{command}",
                        lambda b: b["status"] == "confirmed", "relay on confirmed")
            assert emulators["plus1pm"].state.status["switch:0"]["output"] is True
            await emulators["plus1pm"].change("switch:0", apower=1480.2)
            await until(rh.client, f"/api/v1/devices/{relay}/shadow",
                        lambda b: reported(b, "power_w") == 1480.2, "NotifyStatus power")

            sensor = ids["Shelly plusht"]
            await until(rh.client, f"/api/v1/devices/{sensor}/shadow",
                        lambda b: reported(b, "humidity") == 47.1
                        and reported(b, "battery_soc") == 84, "H&T readings")
            await emulators["plusht"].change("temperature:0", tC=23.9, tF=75.0)
            await until(rh.client, f"/api/v1/devices/{sensor}/shadow",
                        lambda b: reported(b, "temperature") == 23.9, "new temperature")

            dimmer = ids["Shelly dimmer"]
            resp = await rh.client.put(f"/api/v1/devices/{dimmer}/desired",
                                       json={"values": {"power": True, "brightness": 35}})
            await until(rh.client, f"/api/v1/devices/{dimmer}/shadow",
                        lambda b: reported(b, "brightness") == 35 and not b["delta"],
                        "dimmer at 35 %")
            assert emulators["dimmer"].state.calls[-1] == (
                "Light.Set", {"id": 0, "on": True, "brightness": 35})

            # The device refuses (its light component is gone): the command fails, says why.
            del emulators["dimmer"].state.status["light:0"]
            resp = await rh.client.put(f"/api/v1/devices/{dimmer}/desired",
                                       json={"values": {"power": False}})
            command = resp.json()["command_id"]
            status = await until(rh.client, f"/api/v1/commands/{command}",
                                 lambda b: b["status"] == "failed", "refused command")
            assert "-105" in status["reason"] and "refused" in status["reason"]

            # The will says offline; coming back it is read again.
            await emulators["plusht"].link.drop()  # power loss: the broker sends the will
            await until(rh.client, f"/api/v1/devices/{sensor}", lambda b: not b["online"],
                        "H&T offline by its will")
            emulators["plusht"] = ShellyEmulator(broker.settings(), "plusht",
                                                 emulators["plusht"].state.mac,
                                                 name="Shelly plusht")
            emulators["plusht"].state.status["humidity:0"]["rh"] = 55.5
            await emulators["plusht"].start()
            await until(rh.client, f"/api/v1/devices/{sensor}/shadow",
                        lambda b: reported(b, "humidity") == 55.5, "read again on return")
            await until(rh.client, f"/api/v1/devices/{sensor}", lambda b: b["online"],
                        "H&T online")
    finally:
        for topic in (f"thermostat{tag}/online", f"shellyghost{tag}/online"):
            await emulators["dimmer"].link.publish(topic, b"", retain=True)
        for emulator in emulators.values():
            await emulator.stop(clear=True)
