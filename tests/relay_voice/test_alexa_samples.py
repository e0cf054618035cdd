"""Every directive sample from Amazon's alexa-smarthome repository gets a schema-valid answer.

Directives of interfaces homehub offers are also replayed against a real endpoint of the
account (their `endpointId` replaced), and must then succeed or fail for the documented reason.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from skip_policy import need, skip_mark
from voice_testkit import HUB_A, SAMPLES, FakeBackend, aircon, ep, light

from relay.voice import RecordingChangeReportSender, handle_alexa

REQUESTS = sorted(SAMPLES.rglob("*.request.json")) + sorted(SAMPLES.rglob("ReportState.json"))
SKILL_MESSAGES = sorted(set(SAMPLES.rglob("*.json")) - set(REQUESTS))
ANSWERS = {"Response", "StateReport", "Discover.Response", "AcceptGrant.Response", "ErrorResponse"}
# sample file name -> (device to aim it at, expected answer: event name or error type)
ON_OUR_DEVICES = {
    "PowerController.TurnOn.request.json": ("light", "Response"),
    "PowerController.TurnOff.request.json": ("light", "Response"),
    "BrightnessController.SetBrightness.request.json": ("light", "Response"),
    "BrightnessController.AdjustBrightness.request.json": ("light", "Response"),
    "ThermostatController.SetTargetTemperature.SingleMode.request.json": ("aircon", "Response"),
    "ThermostatController.AdjustTargetTemperature.request.json": ("aircon", "Response"),
    "ThermostatController.SetThermostatMode.request.json": ("aircon", "Response"),
    "ThermostatController.SetTargetTemperature.DualMode.request.json":
        ("aircon", "DUAL_SETPOINTS_UNSUPPORTED"),
    "ThermostatController.SetTargetTemperature.TripleMode.request.json":
        ("aircon", "TRIPLE_SETPOINTS_UNSUPPORTED"),
    "ReportState.json": ("aircon", "StateReport"),
    "PercentageController.SetPercentage.request.json": ("light", "INVALID_DIRECTIVE"),
}


def _params(paths: list[Path]) -> list[Any]:
    """One parameter per sample file; without the samples, one that skips (and says why)."""
    if not paths:
        missing = skip_mark("testdata", f"{SAMPLES} not found")
        return [pytest.param(SAMPLES / "missing", marks=missing)]
    return [pytest.param(p, id=p.name) for p in paths]


@pytest.fixture
def backend() -> FakeBackend:
    """One account with a light and an air conditioner."""
    b = FakeBackend()
    b.add_hub("acct-a", HUB_A, [aircon(), light()])
    return b


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        need("testdata", f"{path} not found")
    return dict(json.loads(path.read_text("utf-8")))


def test_the_samples_are_there() -> None:
    if not SAMPLES.is_dir():
        need("testdata", f"{SAMPLES} not found")
    assert len(REQUESTS) == 41
    assert set(ON_OUR_DEVICES) <= {p.name for p in REQUESTS}


@pytest.mark.parametrize("path", _params(REQUESTS))
async def test_every_sample_directive_is_answered(
    path: Path, backend: FakeBackend, alexa_schema_check: Any
) -> None:
    request = _load(path)
    out = await handle_alexa(request, "acct-a", backend, RecordingChangeReportSender())
    header = out["event"]["header"]
    assert header["name"] in ANSWERS
    assert header["payloadVersion"] == "3"
    if "correlationToken" in request["directive"]["header"]:
        assert header["correlationToken"] == request["directive"]["header"]["correlationToken"]
    if header["name"] == "ErrorResponse":
        # "endpoint-001" is none of ours; other interfaces are not offered at all.
        assert out["event"]["payload"]["type"] in ("NO_SUCH_ENDPOINT", "INVALID_DIRECTIVE")
        assert backend.writes == []
    if alexa_schema_check is not None:
        assert out in alexa_schema_check.checked  # the conftest validated this very answer


@pytest.mark.parametrize("name", sorted(ON_OUR_DEVICES))
async def test_supported_samples_on_our_devices(name: str, backend: FakeBackend) -> None:
    path = next((p for p in REQUESTS if p.name == name), SAMPLES / "missing" / name)
    request = copy.deepcopy(_load(path))
    target, expected = ON_OUR_DEVICES[name]
    request["directive"]["endpoint"]["endpointId"] = ep(
        HUB_A, aircon() if target == "aircon" else light())
    out = await handle_alexa(request, "acct-a", backend)
    header = out["event"]["header"]
    if header["name"] == "ErrorResponse":
        assert out["event"]["payload"]["type"] == expected
        assert backend.writes == []
    else:
        assert header["name"] == expected
        assert len(backend.writes) == (0 if expected == "StateReport" else 1)


@pytest.mark.parametrize("path", _params(SKILL_MESSAGES))
def test_amazon_skill_samples_validate(path: Path, alexa_schema_check: Any) -> None:
    """The validator accepts Amazon's own skill messages (so a failure above is ours)."""
    if alexa_schema_check is None:
        need("testdata", "the Alexa schema not found")
    assert alexa_schema_check.errors(_load(path)) == []
