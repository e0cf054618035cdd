"""Rules name devices by id or by name: names are stored as ids, unknown devices are refused.

Before, a rule naming a device by its name was saved and silently never fired, and its dry run
said `Air conditioner 1.power is <object object at 0x...>`.
"""

from __future__ import annotations

from typing import Any

from rules_env import Env, wait_for

from hub.rules.devices import DeviceNames

BY_NAME = {
    "id": "door_lamp",
    "triggers": [{"type": "state", "device": "Door", "property": "contact", "to": True}],
    "conditions": [
        {
            "type": "not",
            "conditions": [{"type": "state", "device": " lamp ", "property": "power", "is": True}],
        },
    ],
    "actions": [{"type": "set", "device": "LAMP", "values": {"power": True}}],
}


async def test_a_rule_naming_devices_by_name_is_stored_with_ids_and_fires(env: Env) -> None:
    saved = await env.rule(BY_NAME)
    assert saved["triggers"][0]["device"] == "door"
    assert saved["conditions"][0]["conditions"][0]["device"] == "lamp"
    assert saved["actions"][0]["device"] == "lamp"
    await env.sense("door", contact=True)
    await wait_for(lambda: env.value("lamp", "power") is True)


async def test_unknown_devices_are_refused_with_the_known_names(env: Env) -> None:
    doc: dict[str, Any] = {
        **BY_NAME,
        "triggers": [{"type": "state", "device": "Air conditioner 1", "property": "power"}],
    }
    resp = await env.client.post("/api/v1/rules", json=doc)
    assert resp.status_code == 422, resp.text
    (problem,) = resp.json()["error"]["details"]["errors"]
    assert problem["field"] == "triggers.0.device"
    assert "no device 'Air conditioner 1'" in problem["message"]
    assert "Door (door)" in problem["message"] and "Lamp (lamp)" in problem["message"]
    assert (await env.client.get("/api/v1/rules/door_lamp")).status_code == 404

    resp = await env.client.put("/api/v1/rules/door_lamp", json=doc)
    assert resp.status_code == 422, resp.text


async def test_yaml_import_points_at_the_line_of_an_unknown_device(env: Env) -> None:
    text = (
        "- id: y\n"
        "  triggers:\n"
        "    - {type: state, device: Door, property: contact, to: true}\n"
        "  actions:\n"
        "    - type: wait\n"
        "      until: {type: state, device: Porch light, property: power, is: true}\n"
        "      timeout: 1m\n"
    )
    resp = await env.client.post("/api/v1/rules/import", json={"yaml": text})
    assert resp.status_code == 422, resp.text
    (problem,) = resp.json()["error"]["details"]["errors"]
    assert problem["field"] == "0.actions.0.until.device"
    assert problem["line"] == 6
    assert "no device 'Porch light'" in problem["message"]

    resp = await env.client.post(
        "/api/v1/rules/import", json={"yaml": text.replace("Porch light", "Heater")}
    )
    assert resp.status_code == 200, resp.text
    rule = (await env.client.get("/api/v1/rules/y")).json()
    assert rule["triggers"][0]["device"] == "door"
    assert rule["actions"][0]["until"]["device"] == "heater"


async def test_scenes_take_names_and_refuse_unknown_devices(env: Env) -> None:
    resp = await env.client.put(
        "/api/v1/scenes/evening", json={"devices": {"Lamp": {"power": True}}}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["devices"] == {"lamp": {"power": True}}
    resp = await env.client.put("/api/v1/scenes/bad", json={"devices": {"Sofa": {"power": True}}})
    assert resp.status_code == 422
    assert "no device 'Sofa'" in resp.json()["error"]["message"]


async def test_dry_run_explains_a_missing_value_in_words(env: Env) -> None:
    await env.rule(
        {
            "id": "bright",
            "triggers": [
                {"type": "numeric", "device": "lamp", "property": "brightness", "above": 80}
            ],
            "actions": [{"type": "notify", "message": "bright"}],
        }
    )
    report = (await env.client.post("/api/v1/rules/bright/dry-run")).json()
    assert report["triggers"][0]["reason"] == "lamp.brightness is 50; fires when it goes above 80"
    assert "object at" not in str(report)


def test_ambiguous_names_ask_for_the_id() -> None:
    names = DeviceNames({"a1": "Lamp", "a2": "lamp", "b": "Fan"})
    assert names.resolve("fan") == "b"
    assert names.resolve("a2") == "a2"
    assert names.resolve("Lamp") is None
    assert names.problem("Lamp") == "2 devices are called 'Lamp' (a1, a2); use the id"
    assert DeviceNames({}).problem("x") == "no device 'x': this hub has no devices yet"
