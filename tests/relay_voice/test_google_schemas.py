"""Every Google answer checked against Google's own published Smart Home JSON schemas.

The schemas (../shared/testdata/google, from Google's smart-home-schema corpus) cover the intent
responses and, per trait, its attributes, states, command params and error codes. SYNC, QUERY,
EXECUTE and DISCONNECT go through handle_google; each answer is validated, then each device's
attributes (per trait it declares) and states (per trait, from QUERY and from EXECUTE), the
params our requests send, and every errorCode against Google's list.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from skip_policy import TESTDATA, shared_data
from voice_testkit import HUB_A, HUB_B, FakeBackend, aircon, ep, light, meter, plug, sensor

from relay.voice import ApplyFailure, ApplyResult, ApplyStatus, handle_google

GOOGLE = TESTDATA / "google"


def _validator(path: Path) -> Draft7Validator:
    schema = json.loads(path.read_text("utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@cache
def intent_schema(intent: str) -> Draft7Validator:
    """The response schema of SYNC, QUERY, EXECUTE or DISCONNECT."""
    name = intent.lower()
    return _validator(GOOGLE / "intents" / name / f"{name}.response.schema.json")


@cache
def traits() -> dict[str, dict[str, Any]]:
    """Trait name -> {"attributes", "states": validator, "commands": {name: params validator}}."""
    out: dict[str, dict[str, Any]] = {}
    for index in sorted((GOOGLE / "traits").glob("*/index.yaml")):
        doc = yaml.safe_load(index.read_text("utf-8"))
        entry: dict[str, Any] = {"commands": {}}
        for part in ("attributes", "states"):
            ref = (doc.get(part) or {}).get("$ref")
            entry[part] = _validator(index.parent / ref) if ref else None
        for command, spec in (doc.get("commands") or {}).items():
            ref = ((spec or {}).get("params") or {}).get("$ref")
            if ref:
                entry["commands"][command] = _validator(index.parent / ref)
        out[doc["name"]] = entry
    return out


def _error_codes_in(doc: Any) -> set[str]:
    """Every errorCode value in a schema's examples (Google's own answers)."""
    if isinstance(doc, dict):
        found = {doc["errorCode"]} if isinstance(doc.get("errorCode"), str) else set()
        return found.union(*(_error_codes_in(v) for v in doc.values()))
    if isinstance(doc, list):
        return set().union(*(_error_codes_in(v) for v in doc))
    return set()


@cache
def error_codes() -> frozenset[str]:
    """Google's error codes: the platform list, each trait's errors, and the codes Google's own
    examples answer with (the corpus spells some both ways: `offline` in the platform list,
    `deviceOffline` in Locator's errors; `deviceTurnedOff` in the EXECUTE example)."""
    codes = set(json.loads((GOOGLE / "platform" / "errors.schema.json").read_text())["enum"])
    for path in (GOOGLE / "traits").glob("*/*.errors.schema.json"):
        codes |= set(json.loads(path.read_text("utf-8")).get("enum", []))
    for path in (GOOGLE / "intents").glob("*/*.response.schema.json"):
        codes |= _error_codes_in(json.loads(path.read_text("utf-8")).get("examples", []))
    return frozenset(codes)


def problems(validator: Draft7Validator, doc: Any, where: str) -> list[str]:
    return [f"{where}: {list(e.absolute_path)} {e.message[:200]}"
            for e in validator.iter_errors(doc)]


def check(intent: str, body: dict[str, Any], device_traits: dict[str, list[str]]) -> list[str]:
    """Everything Google's schemas say about one answer (empty when it is valid)."""
    found = problems(intent_schema(intent), body, f"{intent} response")
    payload = body.get("payload", {})
    if intent == "SYNC":
        for device in payload.get("devices", []):
            for trait in device["traits"]:
                schema = traits()[trait]["attributes"]
                if schema is not None:
                    found += problems(schema, device.get("attributes", {}),
                                      f"{device['id']} {trait} attributes")
    state_sets: list[tuple[str, dict[str, Any]]] = []
    if intent == "QUERY":
        state_sets = [(i, s) for i, s in payload.get("devices", {}).items()]
    if intent == "EXECUTE":
        state_sets = [(i, c["states"]) for c in payload.get("commands", [])
                      if "states" in c for i in c["ids"]]
        found += [f"errorCode {c['errorCode']!r} is not one of Google's"
                  for c in payload.get("commands", [])
                  if "errorCode" in c and c["errorCode"] not in error_codes()]
    if intent == "QUERY":
        found += [f"errorCode {s['errorCode']!r} is not one of Google's"
                  for s in payload.get("devices", {}).values()
                  if "errorCode" in s and s["errorCode"] not in error_codes()]
    for device_id, states in state_sets:
        for trait in device_traits.get(device_id, []):
            schema = traits()[trait]["states"]
            if schema is not None:
                found += problems(schema, states, f"{device_id} {trait} states")
    return found


@pytest.fixture
def backend() -> FakeBackend:
    shared_data("google", "intents")  # skips (or fails where required) without the schemas
    b = FakeBackend()
    b.add_hub("acct-a", HUB_A, [aircon(), light(), plug(), sensor(), meter()])
    b.add_hub("acct-b", HUB_B, [light("esphome-b-lamp")])
    return b


def _request(intent: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    inp: dict[str, Any] = {"intent": f"action.devices.{intent}"}
    if payload is not None:
        inp["payload"] = payload
    return {"requestId": "req-g", "inputs": [inp]}


def _execute(ids: list[str], command: str, params: dict[str, Any]) -> dict[str, Any]:
    full = f"action.devices.commands.{command}"
    owners = [t for t, e in traits().items() if full in e["commands"]]
    assert owners, f"{full} is no command in Google's schemas"
    # Our requests must be shaped as Google sends them, or the checks below prove little.
    assert problems(traits()[owners[0]]["commands"][full], params, full) == []
    return _request("EXECUTE", {"commands": [{"devices": [{"id": i} for i in ids],
                                              "execution": [{"command": full,
                                                             "params": params}]}]})


async def _sync(backend: FakeBackend) -> tuple[dict[str, Any], dict[str, list[str]]]:
    out = await handle_google(_request("SYNC"), "acct-a", backend)
    by_id = {d["id"]: d["traits"] for d in out["payload"]["devices"]}
    return out, by_id


async def test_sync_and_every_trait_attribute_match_googles_schemas(backend: FakeBackend) -> None:
    out, by_id = await _sync(backend)
    assert check("SYNC", out, by_id) == []
    declared = {t for ts in by_id.values() for t in ts}
    assert declared - set(traits()) == set(), "a trait Google does not define"
    # Non-vacuous: the trait attributes really are checked.
    assert len(declared) >= 5


async def test_query_states_match_googles_schemas(backend: FakeBackend) -> None:
    _, by_id = await _sync(backend)
    ids = [*by_id, ep(HUB_B, light("esphome-b-lamp"))]
    body = _request("QUERY", {"devices": [{"id": i} for i in ids]})
    out = await handle_google(body, "acct-a", backend)
    assert check("QUERY", out, by_id) == []
    backend.online[HUB_A] = False  # answers from the cache, offline
    assert check("QUERY", await handle_google(body, "acct-a", backend), by_id) == []


@pytest.mark.parametrize(("target", "command", "params"), [
    ("light", "OnOff", {"on": True}),
    ("light", "BrightnessAbsolute", {"brightness": 30}),
    ("plug", "OnOff", {"on": False}),
    ("aircon", "ThermostatTemperatureSetpoint", {"thermostatTemperatureSetpoint": 22.5}),
    ("aircon", "ThermostatSetMode", {"thermostatMode": "heat"}),
    ("aircon", "ThermostatSetMode", {"thermostatMode": "off"}),
    ("aircon", "SetFanSpeed", {"fanSpeed": "4"}),
    # Refusals: out of range, a command the device lacks.
    ("aircon", "ThermostatTemperatureSetpoint", {"thermostatTemperatureSetpoint": 40}),
    ("light", "ThermostatSetMode", {"thermostatMode": "cool"}),
])
async def test_execute_answers_match_googles_schemas(
    backend: FakeBackend, target: str, command: str, params: dict[str, Any]
) -> None:
    device = {"light": light(), "plug": plug(), "aircon": aircon()}[target]
    _, by_id = await _sync(backend)
    out = await handle_google(_execute([ep(HUB_A, device)], command, params), "acct-a", backend)
    assert check("EXECUTE", out, by_id) == []


@pytest.mark.parametrize("case", ["foreign", "offline", "pending", "busy", "turned_off"])
async def test_execute_failures_use_googles_error_codes(backend: FakeBackend, case: str) -> None:
    _, by_id = await _sync(backend)
    lamp, ac = ep(HUB_A, light()), ep(HUB_A, aircon())
    ids, command, params = [lamp], "OnOff", {"on": True}
    if case == "foreign":
        ids = [ep(HUB_B, light("esphome-b-lamp"))]
    elif case == "offline":
        backend.online[HUB_A] = False
    elif case == "pending":
        backend.next_result = ApplyResult(ApplyStatus.QUEUED)
    elif case == "busy":
        backend.next_result = ApplyResult(ApplyStatus.ERROR, ApplyFailure.BUSY, "slow")
    else:
        backend.hub_devices[HUB_A][0] = aircon(power=False)
        ids, command = [ac], "ThermostatTemperatureSetpoint"
        params = {"thermostatTemperatureSetpoint": 22}
    out = await handle_google(_execute(ids, command, params), "acct-a", backend)
    assert check("EXECUTE", out, by_id) == []
    if case != "pending":
        assert out["payload"]["commands"][0].get("errorCode")


async def test_disconnect_answer_matches_googles_schema(backend: FakeBackend) -> None:
    out = await handle_google(_request("DISCONNECT"), "acct-a", backend)
    assert check("DISCONNECT", out, {}) == []


async def test_the_checks_are_not_vacuous(backend: FakeBackend) -> None:
    out, by_id = await _sync(backend)
    broken = copy.deepcopy(out)
    device = next(d for d in broken["payload"]["devices"]
                  if "action.devices.traits.TemperatureSetting" in d["traits"])
    device["attributes"]["thermostatTemperatureUnit"] = "K"
    assert any("TemperatureSetting attributes" in p for p in check("SYNC", broken, by_id))
    del broken["payload"]["agentUserId"]
    assert any("SYNC response" in p for p in check("SYNC", broken, by_id))
    ac = ep(HUB_A, aircon())
    fake_query = {"requestId": "r", "payload": {"devices": {
        ac: {"online": True, "status": "SUCCESS", "thermostatMode": "warm"}}}}
    assert any("TemperatureSetting states" in p for p in check("QUERY", fake_query, by_id))
    fake_execute = {"requestId": "r", "payload": {"commands": [
        {"ids": [ac], "status": "ERROR", "errorCode": "tooHot"}]}}
    assert check("EXECUTE", fake_execute, by_id) == ["errorCode 'tooHot' is not one of Google's"]
