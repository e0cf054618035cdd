"""The ESPHome integration inside a real hub (hub.testing.running_hub), driven over its API."""

from __future__ import annotations

from pathlib import Path

from esphome_testkit import poll_json

from hub import testing
from hub.model import DiscoveredDevice
from integrations.esphome import EsphomeEmulator, EsphomeIntegration, sensor_only_entities
from integrations.esphome.link import device_id_for

HOST = "127.0.0.44"


async def test_hub_sees_states_sends_commands_and_follows_availability(tmp_path: Path) -> None:
    dev = EsphomeEmulator("kitchen-sensor", bind=HOST, port=0, entities=sensor_only_entities())
    await dev.start()
    device_id = device_id_for(dev.mac)
    config = {"integrations": {"esphome": {"devices": [{"host": HOST, "port": dev.port}]}}}
    try:
        async with testing.running_hub(tmp_path, [EsphomeIntegration()], config) as rh:
            path = f"/api/v1/devices/{device_id}"
            body = await poll_json(rh, path, lambda b: b["online"], "the device online")
            names = {p["name"] for p in body["properties"]}
            assert names == {"temperature", "humidity", "power"}

            dev.set_sensor("temperature", 22.75)
            await poll_json(
                rh, f"{path}/shadow",
                lambda b: b["reported"].get("temperature", {}).get("value") == 22.75,
                "the temperature in the shadow",
            )
            resp = await rh.client.put(f"{path}/desired", json={"values": {"power": True}})
            assert resp.status_code == 202, resp.text
            command_id = resp.json()["command_id"]
            await poll_json(
                rh, f"{path}/shadow",
                lambda b: b["reported"].get("power", {}).get("value") is True and not b["delta"],
                "the relay confirmed in the shadow",
            )
            assert dev.switch_state is True
            await poll_json(rh, f"/api/v1/commands/{command_id}",
                            lambda b: b["status"] == "confirmed", "the command confirmed")

            await dev.stop()
            await poll_json(rh, path, lambda b: not b["online"], "the device offline")
            await dev.start()
            await poll_json(rh, path, lambda b: b["online"], "the device back", timeout=45)
    finally:
        await dev.stop()


async def test_discovered_device_is_adopted_through_the_api(tmp_path: Path) -> None:
    dev = EsphomeEmulator("porch-light", bind=HOST, port=0)
    await dev.start()
    try:
        async with testing.running_hub(tmp_path, [EsphomeIntegration()]) as rh:
            key = f"esphome-{dev.mac_hex}"
            # what hub.discovery hands over when the node announces itself over mDNS
            await rh.hub.registry.discovered(DiscoveredDevice(
                key=key, integration="esphome", name="Porch Light", address=HOST,
                port=dev.port, properties={"mac": dev.mac_hex},
            ))
            listed = (await rh.client.get("/api/v1/discovered")).json()["discovered"]
            assert [d["key"] for d in listed] == [key]
            resp = await rh.client.post(f"/api/v1/discovered/{key}/adopt",
                                        json={"name": "Porch", "room": "outside"})
            assert resp.status_code in (200, 201, 202), resp.text
            body = await poll_json(rh, f"/api/v1/devices/{device_id_for(dev.mac)}",
                                   lambda b: b["online"], "the adopted device")
            assert body["name"] == "Porch"
            assert body["room"] == "outside"
            assert (await rh.client.get("/api/v1/discovered")).json()["discovered"] == []
    finally:
        await dev.stop()
