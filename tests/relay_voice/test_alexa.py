"""Alexa Smart Home v3 through handle_alexa and a fake backend (conftest checks the schema)."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from skip_policy import need
from voice_testkit import (
    HUB_A,
    HUB_B,
    FakeBackend,
    aircon,
    device_json,
    directive,
    ep,
    light,
    meter,
    plug,
    sensor,
)

from relay.voice import (
    ApplyFailure,
    ApplyResult,
    ApplyStatus,
    RecordingChangeReportSender,
    VoiceDevice,
    handle_alexa,
    split_endpoint_id,
)
from relay.voice import alexa as builders


@pytest.fixture
def backend() -> FakeBackend:
    """Account A: an air conditioner, a light, a plug, a sensor and a meter; account B: a light."""
    b = FakeBackend()
    b.add_hub("acct-a", HUB_A, [aircon(), light(), plug(), sensor(), meter()])
    b.add_hub("acct-b", HUB_B, [light("esphome-b-lamp")])
    return b


def _caps(endpoint: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("instance") or c["interface"]: c for c in endpoint["capabilities"]}


def _props(message: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(p["namespace"], p.get("instance") or p["name"]): p["value"]
            for p in message["context"]["properties"]}


def _error(message: dict[str, Any]) -> tuple[str, str]:
    header = message["event"]["header"]
    assert header["name"] == "ErrorResponse", message
    return header["namespace"], message["event"]["payload"]["type"]


async def test_discovery_generates_endpoints_from_properties(backend: FakeBackend) -> None:
    out = await handle_alexa(directive("Alexa.Discovery", "Discover",
                                       payload={"scope": {"type": "BearerToken", "token": "t"}}),
                             "acct-a", backend)
    endpoints = {e["endpointId"]: e for e in out["event"]["payload"]["endpoints"]}
    assert out["event"]["header"]["name"] == "Discover.Response"
    # The meter has nothing Alexa can use; account B's lamp is not listed.
    assert set(endpoints) == {ep(HUB_A, d) for d in (aircon(), light(), plug(), sensor())}
    ac = endpoints[ep(HUB_A, aircon())]
    assert ac["displayCategories"] == ["THERMOSTAT"]
    caps = _caps(ac)
    assert caps["Alexa.ThermostatController"]["configuration"]["supportedModes"] == [
        "AUTO", "COOL", "HEAT", "OFF"]
    assert {m["value"] for m in caps["Aircon.Mode"]["configuration"]["supportedModes"]} == {
        "Mode.auto", "Mode.cool", "Mode.heat", "Mode.dry", "Mode.fan"}
    assert len(caps["Fan.Speed"]["configuration"]["supportedModes"]) == 9
    assert {"Alexa", "Alexa.PowerController", "Alexa.TemperatureSensor",
            "Alexa.EndpointHealth"} <= set(caps)
    lamp = endpoints[ep(HUB_A, light())]
    assert lamp["displayCategories"] == ["LIGHT"] and "Alexa.BrightnessController" in _caps(lamp)
    assert "." not in lamp["endpointId"]
    assert split_endpoint_id(lamp["endpointId"]) == (HUB_A, "esphome-lamp.main")
    assert endpoints[ep(HUB_A, plug())]["displayCategories"] == ["SMARTPLUG"]
    assert endpoints[ep(HUB_A, sensor())]["displayCategories"] == ["TEMPERATURE_SENSOR"]
    assert set(_caps(endpoints[ep(HUB_A, sensor())])) == {
        "Alexa", "Alexa.TemperatureSensor", "Alexa.EndpointHealth"}


async def test_turn_on_writes_power_and_reports_state(backend: FakeBackend) -> None:
    lamp = ep(HUB_A, light())
    out = await handle_alexa(directive("Alexa.PowerController", "TurnOn", lamp), "acct-a", backend)
    assert out["event"]["header"]["name"] == "Response"
    assert out["event"]["header"]["correlationToken"] == "corr-token=="
    assert out["event"]["endpoint"]["endpointId"] == lamp
    assert _props(out)[("Alexa.PowerController", "powerState")] == "ON"
    assert _props(out)[("Alexa.EndpointHealth", "connectivity")] == {"value": "OK"}
    assert backend.writes == [("acct-a", HUB_A, "esphome-lamp.main", {"power": True}, "alexa:m-1")]
    await handle_alexa(directive("Alexa.PowerController", "TurnOff", lamp), "acct-a", backend)
    assert backend.writes[-1][3] == {"power": False}


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [(22, "CELSIUS", 22.0), (72, "FAHRENHEIT", 22.0), (295.65, "KELVIN", 22.5),
     (16, "CELSIUS", 16.0), (22.3, "CELSIUS", 22.5)],
)
async def test_set_target_temperature_converts_and_rounds(
    backend: FakeBackend, value: float, scale: str, expected: float
) -> None:
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetTargetTemperature", ep(HUB_A, aircon()),
                  {"targetSetpoint": {"value": value, "scale": scale}}), "acct-a", backend)
    assert backend.writes[-1][3] == {"target_temperature": expected}
    assert _props(out)[("Alexa.ThermostatController", "targetSetpoint")] == {
        "value": expected, "scale": "CELSIUS"}
    assert _props(out)[("Alexa.ThermostatController", "thermostatMode")] == "COOL"


async def test_temperature_out_of_range_names_the_valid_range(backend: FakeBackend) -> None:
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetTargetTemperature", ep(HUB_A, aircon()),
                  {"targetSetpoint": {"value": 35, "scale": "CELSIUS"}}), "acct-a", backend)
    assert _error(out) == ("Alexa", "TEMPERATURE_VALUE_OUT_OF_RANGE")
    assert out["event"]["payload"]["validRange"] == {
        "minimumValue": {"value": 16.0, "scale": "CELSIUS"},
        "maximumValue": {"value": 30.0, "scale": "CELSIUS"}}
    assert backend.writes == []


async def test_adjust_target_temperature_from_the_cached_set_point(backend: FakeBackend) -> None:
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "AdjustTargetTemperature", ep(HUB_A, aircon()),
                  {"targetSetpointDelta": {"value": -2.0, "scale": "FAHRENHEIT"}}),
        "acct-a", backend)
    # 24 °C - 2 °F (1.11 °C) = 22.89 -> the device's 0.5 °C step
    assert backend.writes[-1][3] == {"target_temperature": 23.0}
    assert out["event"]["header"]["name"] == "Response"
    await handle_alexa(
        directive("Alexa.ThermostatController", "AdjustTargetTemperature", ep(HUB_A, aircon()),
                  {"targetSetpointDelta": {"value": 10, "scale": "CELSIUS"}}), "acct-a", backend)
    assert len(backend.writes) == 1  # 34 °C is out of range


@pytest.mark.parametrize(
    ("mode", "changes"),
    [("COOL", {"mode": "cool", "power": True}), ("HEAT", {"mode": "heat", "power": True}),
     ("AUTO", {"mode": "auto", "power": True}), ("OFF", {"power": False})],
)
async def test_set_thermostat_mode(
    backend: FakeBackend, mode: str, changes: dict[str, Any]
) -> None:
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetThermostatMode", ep(HUB_A, aircon()),
                  {"thermostatMode": {"value": mode}}), "acct-a", backend)
    assert backend.writes[-1][3] == changes
    assert _props(out)[("Alexa.ThermostatController", "thermostatMode")] == mode


async def test_thermostat_errors(backend: FakeBackend) -> None:
    target = ep(HUB_A, aircon())
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetThermostatMode", target,
                  {"thermostatMode": {"value": "ECO"}}), "acct-a", backend)
    assert _error(out) == ("Alexa.ThermostatController", "UNSUPPORTED_THERMOSTAT_MODE")
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetTargetTemperature", target,
                  {"lowerSetpoint": {"value": 20, "scale": "CELSIUS"},
                   "upperSetpoint": {"value": 24, "scale": "CELSIUS"}}), "acct-a", backend)
    assert _error(out) == ("Alexa.ThermostatController", "DUAL_SETPOINTS_UNSUPPORTED")
    backend.hub_devices[HUB_A][0] = aircon(power=False)
    out = await handle_alexa(
        directive("Alexa.ThermostatController", "SetTargetTemperature", target,
                  {"targetSetpoint": {"value": 22, "scale": "CELSIUS"}}), "acct-a", backend)
    assert _error(out) == ("Alexa.ThermostatController", "THERMOSTAT_IS_OFF")
    out = await handle_alexa(
        directive("Alexa.PowerController", "TurnOn", ep(HUB_A, sensor())), "acct-a", backend)
    assert _error(out) == ("Alexa", "INVALID_DIRECTIVE")
    assert backend.writes == []


async def test_brightness(backend: FakeBackend) -> None:
    lamp = ep(HUB_A, light())
    out = await handle_alexa(directive("Alexa.BrightnessController", "SetBrightness", lamp,
                                       {"brightness": 75}), "acct-a", backend)
    assert backend.writes[-1][3] == {"brightness": 75}
    assert _props(out)[("Alexa.BrightnessController", "brightness")] == 75
    await handle_alexa(directive("Alexa.BrightnessController", "AdjustBrightness", lamp,
                                 {"brightnessDelta": 70}), "acct-a", backend)
    assert backend.writes[-1][3] == {"brightness": 100}  # 40 + 70, clamped
    out = await handle_alexa(directive("Alexa.BrightnessController", "SetBrightness", lamp,
                                       {"brightness": 150}), "acct-a", backend)
    assert _error(out) == ("Alexa", "VALUE_OUT_OF_RANGE")
    assert out["event"]["payload"]["validRange"] == {"minimumValue": 0.0, "maximumValue": 100.0}
    assert len(backend.writes) == 2


async def test_mode_controller_instances(backend: FakeBackend) -> None:
    target = ep(HUB_A, aircon())
    out = await handle_alexa(directive("Alexa.ModeController", "SetMode", target,
                                       {"mode": "FanSpeed.3"}, instance="Fan.Speed"),
                             "acct-a", backend)
    assert backend.writes[-1][3] == {"fan_speed": "3"}
    assert _props(out)[("Alexa.ModeController", "Fan.Speed")] == "FanSpeed.3"
    await handle_alexa(directive("Alexa.ModeController", "SetMode", target, {"mode": "Mode.dry"},
                                 instance="Aircon.Mode"), "acct-a", backend)
    assert backend.writes[-1][3] == {"mode": "dry"}
    out = await handle_alexa(directive("Alexa.ModeController", "SetMode", target,
                                       {"mode": "FanSpeed.11"}, instance="Fan.Speed"),
                             "acct-a", backend)
    assert _error(out) == ("Alexa", "INVALID_VALUE")
    out = await handle_alexa(directive("Alexa.ModeController", "SetMode", target,
                                       {"mode": "Swing.on"}, instance="Swing"), "acct-a", backend)
    assert _error(out) == ("Alexa", "INVALID_DIRECTIVE")


@pytest.mark.parametrize(("current", "delta", "expected"),
                         [("auto", 1, "1"), ("auto", -1, "8"), ("3", 2, "5"), ("7", 5, "8"),
                          ("2", -4, "1")])
async def test_adjust_fan_speed(backend: FakeBackend, current: str, delta: int,
                                expected: str) -> None:
    backend.hub_devices[HUB_A][0] = aircon(fan_speed=current)
    out = await handle_alexa(directive("Alexa.ModeController", "AdjustMode", ep(HUB_A, aircon()),
                                       {"modeDelta": delta}, instance="Fan.Speed"),
                             "acct-a", backend)
    assert backend.writes[-1][3] == {"fan_speed": expected}
    assert _props(out)[("Alexa.ModeController", "Fan.Speed")] == f"FanSpeed.{expected}"


async def test_report_state_online_and_from_cache_when_hub_offline(backend: FakeBackend) -> None:
    target = ep(HUB_A, aircon())
    out = await handle_alexa(directive("Alexa", "ReportState", target), "acct-a", backend)
    assert out["event"]["header"]["name"] == "StateReport"
    props = _props(out)
    assert props[("Alexa.TemperatureSensor", "temperature")] == {"value": 26.5, "scale": "CELSIUS"}
    assert props[("Alexa.EndpointHealth", "connectivity")] == {"value": "OK"}
    backend.hub_devices[HUB_A][0] = device_json(
        aircon()["id"], "Bedroom AC", {"power": True, "target_temperature": 21.0},
        ts=time.time() - 600)
    backend.online[HUB_A] = False
    out = await handle_alexa(directive("Alexa", "ReportState", target), "acct-a", backend)
    props = _props(out)
    assert out["event"]["header"]["name"] == "StateReport"
    assert props[("Alexa.EndpointHealth", "connectivity")] == {"value": "UNREACHABLE"}
    assert props[("Alexa.ThermostatController", "targetSetpoint")]["value"] == 21.0
    stale = next(p for p in out["context"]["properties"] if p["name"] == "targetSetpoint")
    assert stale["uncertaintyInMilliseconds"] >= 600_000  # last-known, 10 minutes old


async def test_commands_for_offline_hub_or_device_are_unreachable(backend: FakeBackend) -> None:
    backend.online[HUB_A] = False
    out = await handle_alexa(directive("Alexa.PowerController", "TurnOn", ep(HUB_A, light())),
                             "acct-a", backend)
    assert _error(out) == ("Alexa", "ENDPOINT_UNREACHABLE")
    backend.online[HUB_A] = True
    backend.hub_devices[HUB_A][1]["online"] = False
    out = await handle_alexa(directive("Alexa.PowerController", "TurnOn", ep(HUB_A, light())),
                             "acct-a", backend)
    assert _error(out) == ("Alexa", "ENDPOINT_UNREACHABLE")
    assert backend.writes == []


@pytest.mark.parametrize(
    ("result", "expected"),
    [(ApplyResult(ApplyStatus.QUEUED), "ENDPOINT_UNREACHABLE"),
     (ApplyResult(ApplyStatus.ERROR, ApplyFailure.INVALID, "no"), "INVALID_VALUE"),
     (ApplyResult(ApplyStatus.ERROR, ApplyFailure.BUSY, "slow"), "ENDPOINT_BUSY"),
     (ApplyResult(ApplyStatus.ERROR, ApplyFailure.NOT_FOUND, "gone"), "NO_SUCH_ENDPOINT"),
     (ApplyResult(ApplyStatus.ERROR, ApplyFailure.OTHER, "boom"), "INTERNAL_ERROR")],
)
async def test_backend_failures_map_to_alexa_types(
    backend: FakeBackend, result: ApplyResult, expected: str
) -> None:
    backend.next_result = result
    out = await handle_alexa(directive("Alexa.PowerController", "TurnOn", ep(HUB_A, light())),
                             "acct-a", backend)
    assert _error(out) == ("Alexa", expected)


async def test_account_b_cannot_reach_account_a_devices(backend: FakeBackend) -> None:
    for d in (directive("Alexa.PowerController", "TurnOn", ep(HUB_A, light())),
              directive("Alexa", "ReportState", ep(HUB_A, aircon())),
              directive("Alexa.ThermostatController", "SetTargetTemperature", ep(HUB_A, aircon()),
                        {"targetSetpoint": {"value": 22, "scale": "CELSIUS"}})):
        out = await handle_alexa(d, "acct-b", backend)
        assert _error(out) == ("Alexa", "NO_SUCH_ENDPOINT")
    assert backend.writes == []


async def test_accept_grant_goes_to_the_sender(backend: FakeBackend) -> None:
    grant = directive("Alexa.Authorization", "AcceptGrant", payload={
        "grant": {"type": "OAuth2.AuthorizationCode", "code": "abc"},
        "grantee": {"type": "BearerToken", "token": "t"}})
    reports = RecordingChangeReportSender()
    out = await handle_alexa(grant, "acct-a", backend, reports)
    assert out["event"]["header"]["name"] == "AcceptGrant.Response"
    assert reports.grants == [("acct-a", "abc")]
    out = await handle_alexa(grant, "acct-a", backend, RecordingChangeReportSender(accept=False))
    assert _error(out) == ("Alexa.Authorization", "ACCEPT_GRANT_FAILED")


async def test_unsupported_and_malformed_directives(backend: FakeBackend) -> None:
    out = await handle_alexa(directive("Alexa.LockController", "Lock", ep(HUB_A, light())),
                             "acct-a", backend)
    assert _error(out) == ("Alexa", "INVALID_DIRECTIVE")
    old = directive("Alexa.PowerController", "TurnOn", ep(HUB_A, light()))
    old["directive"]["header"]["payloadVersion"] = "2"
    assert _error(await handle_alexa(old, "acct-a", backend)) == ("Alexa", "INVALID_DIRECTIVE")
    assert _error(await handle_alexa({}, "acct-a", backend)) == ("Alexa", "INVALID_DIRECTIVE")
    bad = directive("Alexa.PowerController", "TurnOn", "no-separator")
    assert _error(await handle_alexa(bad, "acct-a", backend)) == ("Alexa", "NO_SUCH_ENDPOINT")
    assert backend.writes == []


def test_credential_errors() -> None:
    d = directive("Alexa.PowerController", "TurnOn", "hub:x")
    assert builders.credential_error(d, expired=True)["event"]["payload"]["type"] == (
        "EXPIRED_AUTHORIZATION_CREDENTIAL")
    assert builders.credential_error(d, expired=False)["event"]["payload"]["type"] == (
        "INVALID_AUTHORIZATION_CREDENTIAL")
    assert builders.bearer_token(d) == "token-a"


async def test_change_report_carries_changed_and_unchanged_properties() -> None:
    device = VoiceDevice.from_json(HUB_A, True, aircon(power=False))
    message = builders.change_report(device, ["power"], "amazon-token")
    assert message is not None
    change = message["event"]["payload"]["change"]
    assert [(p["namespace"], p["name"], p["value"]) for p in change["properties"]] == [
        ("Alexa.PowerController", "powerState", "OFF"),
        ("Alexa.ThermostatController", "thermostatMode", "OFF")]
    names = {p["name"] for p in message["context"]["properties"]}
    assert "powerState" not in names and {"targetSetpoint", "connectivity"} <= names
    assert builders.change_report(device, ["energy_kwh"], "t") is None
    sender = RecordingChangeReportSender()
    await sender.send("acct-a", message)
    assert sender.sent == [("acct-a", message)]


def test_validator_is_not_vacuous(alexa_schema_check: Any) -> None:
    if alexa_schema_check is None:
        need("testdata", "the Alexa schema not found")
    device = VoiceDevice.from_json(HUB_A, True, light())
    good = builders.response(directive("Alexa.PowerController", "TurnOn", device.endpoint_id),
                             device)
    bad = copy.deepcopy(good)
    bad["event"]["header"]["payloadVersion"] = "2"
    assert alexa_schema_check.errors(good) == []
    assert alexa_schema_check.checked == [good]  # the builder call itself was validated
    assert alexa_schema_check.errors(bad)
    wrong_value = copy.deepcopy(good)
    wrong_value["context"]["properties"][0]["value"] = "HALF"
    assert alexa_schema_check.errors(wrong_value)
