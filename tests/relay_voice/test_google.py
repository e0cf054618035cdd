"""Google Smart Home SYNC / QUERY / EXECUTE / DISCONNECT through handle_google.

Response shapes are checked against JSON schemas written here from Google's fulfillment
reference (developers.home.google.com/cloud-to-cloud/intents/*): Google publishes no schema file.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft7Validator
from voice_testkit import HUB_A, HUB_B, FakeBackend, aircon, ep, light, meter, plug, sensor

from relay.voice import ApplyFailure, ApplyResult, ApplyStatus, handle_google, is_disconnect

_STATUS = {"enum": ["SUCCESS", "PENDING", "OFFLINE", "EXCEPTIONS", "ERROR"]}
SYNC = {
    "type": "object", "required": ["requestId", "payload"],
    "properties": {"requestId": {"type": "string"}, "payload": {
        "type": "object", "required": ["agentUserId", "devices"],
        "properties": {"agentUserId": {"type": "string", "minLength": 1}, "devices": {
            "type": "array", "items": {
                "type": "object", "required": ["id", "type", "traits", "name", "willReportState"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "type": {"type": "string", "pattern": r"^action\.devices\.types\.[A-Z_]+$"},
                    "traits": {"type": "array", "minItems": 1, "items": {
                        "type": "string", "pattern": r"^action\.devices\.traits\.[A-Za-z]+$"}},
                    "name": {"type": "object", "required": ["name"],
                             "properties": {"name": {"type": "string"}}},
                    "willReportState": {"type": "boolean"},
                    "roomHint": {"type": "string"},
                    "attributes": {"type": "object"},
                    "deviceInfo": {"type": "object"}}}}}}}}
QUERY = {
    "type": "object", "required": ["requestId", "payload"],
    "properties": {"payload": {"type": "object", "required": ["devices"], "properties": {
        "devices": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["online", "status"],
            "properties": {"online": {"type": "boolean"}, "status": _STATUS,
                           "errorCode": {"type": "string"}}}}}}}}
EXECUTE = {
    "type": "object", "required": ["requestId", "payload"],
    "properties": {"payload": {"type": "object", "required": ["commands"], "properties": {
        "commands": {"type": "array", "items": {
            "type": "object", "required": ["ids", "status"],
            "properties": {"ids": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                           "status": _STATUS, "states": {"type": "object"},
                           "errorCode": {"type": "string"}},
            "if": {"properties": {"status": {"enum": ["ERROR", "OFFLINE"]}}},
            "then": {"required": ["errorCode"]}}}}}}}


def _check(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in Draft7Validator(schema).iter_errors(body)]
    assert errors == [], body
    return body


@pytest.fixture
def backend() -> FakeBackend:
    """Account A: air conditioner, light, plug, sensor, meter; account B: a light."""
    b = FakeBackend()
    b.add_hub("acct-a", HUB_A, [aircon(), light(), plug(), sensor(), meter()])
    b.add_hub("acct-b", HUB_B, [light("esphome-b-lamp")])
    return b


def _request(intent: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    inp: dict[str, Any] = {"intent": intent}
    if payload is not None:
        inp["payload"] = payload
    return {"requestId": "req-1", "inputs": [inp]}


def _execute(ids: list[str], *executions: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return _request("action.devices.EXECUTE", {"commands": [{
        "devices": [{"id": i} for i in ids],
        "execution": [{"command": f"action.devices.commands.{c}", "params": p}
                      for c, p in executions]}]})


async def test_sync_types_traits_and_attributes(backend: FakeBackend) -> None:
    out = _check(SYNC, await handle_google(_request("action.devices.SYNC"), "acct-a", backend))
    assert out["requestId"] == "req-1" and out["payload"]["agentUserId"] == "acct-a"
    devices = {d["id"]: d for d in out["payload"]["devices"]}
    assert set(devices) == {ep(HUB_A, d) for d in (aircon(), light(), plug(), sensor())}
    ac = devices[ep(HUB_A, aircon())]
    assert ac["type"] == "action.devices.types.AC_UNIT"
    assert {t.rsplit(".", 1)[1] for t in ac["traits"]} == {"OnOff", "TemperatureSetting",
                                                           "FanSpeed"}
    attrs = ac["attributes"]
    assert attrs["availableThermostatModes"] == ["off", "on", "auto", "cool", "heat", "dry",
                                                 "fan-only"]
    assert attrs["thermostatTemperatureRange"] == {"minThresholdCelsius": 16.0,
                                                   "maxThresholdCelsius": 30.0}
    assert attrs["thermostatTemperatureUnit"] == "C"
    assert len(attrs["availableFanSpeeds"]["speeds"]) == 9
    assert ac["roomHint"] == "Bedroom"
    assert devices[ep(HUB_A, light())]["type"] == "action.devices.types.LIGHT"
    assert devices[ep(HUB_A, plug())]["type"] == "action.devices.types.OUTLET"
    s = devices[ep(HUB_A, sensor())]
    assert s["type"] == "action.devices.types.SENSOR"
    assert s["attributes"]["queryOnlyTemperatureControl"] is True
    assert s["attributes"]["queryOnlyHumiditySetting"] is True


async def test_query_online_offline_and_foreign(backend: FakeBackend) -> None:
    ids = [ep(HUB_A, aircon()), ep(HUB_A, light()), ep(HUB_B, light("esphome-b-lamp"))]
    body = _request("action.devices.QUERY", {"devices": [{"id": i} for i in ids]})
    out = _check(QUERY, await handle_google(body, "acct-a", backend))
    devices = out["payload"]["devices"]
    assert devices[ids[0]] == {
        "online": True, "status": "SUCCESS", "on": True, "thermostatMode": "cool",
        "thermostatTemperatureSetpoint": 24.0, "thermostatTemperatureAmbient": 26.5,
        "thermostatHumidityAmbient": 55.0, "currentFanSpeedSetting": "auto"}
    assert devices[ids[1]]["brightness"] == 40 and devices[ids[1]]["on"] is False
    # Account B's lamp is not found for account A, and its state is not shown.
    assert devices[ids[2]] == {"online": False, "status": "ERROR", "errorCode": "deviceNotFound"}
    backend.online[HUB_A] = False
    out = _check(QUERY, await handle_google(body, "acct-a", backend))
    cached = out["payload"]["devices"][ids[0]]
    assert cached["online"] is False and cached["status"] == "OFFLINE"
    assert cached["thermostatTemperatureSetpoint"] == 24.0  # last known, from the cache


async def test_execute_writes_and_reports_new_states(backend: FakeBackend) -> None:
    ac = ep(HUB_A, aircon())
    out = _check(EXECUTE, await handle_google(
        _execute([ac], ("ThermostatSetMode", {"thermostatMode": "heat"}),
                 ("ThermostatTemperatureSetpoint", {"thermostatTemperatureSetpoint": 22.5})),
        "acct-a", backend))
    [entry] = out["payload"]["commands"]
    assert entry["status"] == "SUCCESS" and entry["ids"] == [ac]
    assert entry["states"]["thermostatMode"] == "heat"
    assert entry["states"]["thermostatTemperatureSetpoint"] == 22.5
    assert backend.writes == [("acct-a", HUB_A, aircon()["id"],
                               {"mode": "heat", "power": True, "target_temperature": 22.5},
                               f"google:req-1:0:{ac}")]
    await handle_google(_execute([ep(HUB_A, light())], ("OnOff", {"on": True}),
                                 ("BrightnessAbsolute", {"brightness": 30})), "acct-a", backend)
    assert backend.writes[-1][3] == {"power": True, "brightness": 30}
    await handle_google(_execute([ac], ("SetFanSpeed", {"fanSpeed": "4"})), "acct-a", backend)
    assert backend.writes[-1][3] == {"fan_speed": "4"}
    await handle_google(_execute([ac], ("ThermostatSetMode", {"thermostatMode": "off"})),
                        "acct-a", backend)
    assert backend.writes[-1][3] == {"power": False}


async def test_execute_errors_per_device(backend: FakeBackend) -> None:
    ac, lamp = ep(HUB_A, aircon()), ep(HUB_A, light())
    foreign = ep(HUB_B, light("esphome-b-lamp"))
    out = _check(EXECUTE, await handle_google(
        _execute([ac, lamp, foreign], ("ThermostatTemperatureSetpoint",
                                       {"thermostatTemperatureSetpoint": 40})),
        "acct-a", backend))
    codes = {tuple(c["ids"]): (c["status"], c.get("errorCode"))
             for c in out["payload"]["commands"]}
    assert codes == {(ac,): ("ERROR", "valueOutOfRange"),
                     (lamp,): ("ERROR", "functionNotSupported"),
                     (foreign,): ("ERROR", "deviceNotFound")}
    assert backend.writes == []
    backend.hub_devices[HUB_A][0] = aircon(power=False)
    out = _check(EXECUTE, await handle_google(
        _execute([ac], ("ThermostatTemperatureSetpoint", {"thermostatTemperatureSetpoint": 22})),
        "acct-a", backend))
    assert out["payload"]["commands"][0]["errorCode"] == "deviceTurnedOff"


async def test_execute_offline_pending_and_hub_failures(backend: FakeBackend) -> None:
    lamp = ep(HUB_A, light())
    backend.online[HUB_A] = False
    out = _check(EXECUTE, await handle_google(_execute([lamp], ("OnOff", {"on": True})),
                                              "acct-a", backend))
    assert out["payload"]["commands"] == [{"ids": [lamp], "status": "OFFLINE",
                                           "errorCode": "deviceOffline"}]
    assert backend.writes == []
    backend.online[HUB_A] = True
    backend.next_result = ApplyResult(ApplyStatus.QUEUED)
    out = _check(EXECUTE, await handle_google(_execute([lamp], ("OnOff", {"on": True})),
                                              "acct-a", backend))
    assert out["payload"]["commands"][0]["status"] == "PENDING"
    backend.next_result = ApplyResult(ApplyStatus.ERROR, ApplyFailure.BUSY, "slow")
    out = _check(EXECUTE, await handle_google(_execute([lamp], ("OnOff", {"on": True})),
                                              "acct-a", backend))
    assert out["payload"]["commands"][0]["errorCode"] == "deviceBusy"


async def test_account_b_cannot_execute_on_account_a(backend: FakeBackend) -> None:
    out = _check(EXECUTE, await handle_google(
        _execute([ep(HUB_A, light()), ep(HUB_A, aircon())], ("OnOff", {"on": True})),
        "acct-b", backend))
    assert {c["errorCode"] for c in out["payload"]["commands"]} == {"deviceNotFound"}
    assert backend.writes == []


async def test_disconnect_and_unknown_intent(backend: FakeBackend) -> None:
    body = _request("action.devices.DISCONNECT")
    assert is_disconnect(body)
    assert await handle_google(body, "acct-a", backend) == {}
    out = await handle_google(_request("action.devices.NOPE"), "acct-a", backend)
    assert out == {"requestId": "req-1", "payload": {"errorCode": "protocolError",
                                                     "debugString": "unknown intent "
                                                                    "'action.devices.NOPE'"}}
    assert not is_disconnect(_request("action.devices.SYNC"))
