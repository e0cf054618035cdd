"""docs/rules.md stays true: every example is imported into a real hub holding the doc's home,
every trigger, condition and action kind and every run mode has an example, and the edge
trigger behaves as the doc says ("fires when the temperature crosses 27, not while it stays
above")."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from rules_env import T0, ListSink, wait_for

from hub.clock import ManualClock
from hub.model import spec_for
from hub.rules import RulesEngine
from hub.rules.model import Action, Condition, MissedPolicy, RunMode, Trigger
from hub.testing import running_hub
from integrations.virtual.integration import VirtualDevice, VirtualIntegration

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)


def kinds(union: Any) -> set[str]:
    """The `type` values of a discriminated union of rule models."""
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in members}


def doc_home() -> list[VirtualDevice]:
    """The devices of the doc's table, by the same names and ids."""
    return [
        VirtualDevice(
            "aircon",
            "Living room aircon",
            {p: spec_for(p) for p in ("power", "mode", "temperature", "target_temperature")},
            {"power": False, "mode": "cool", "temperature": 24.0, "target_temperature": 26.0},
        ),
        VirtualDevice(
            "hall-light",
            "Hall light",
            {"power": spec_for("power"), "brightness": spec_for("brightness")},
            {"power": False, "brightness": 100},
        ),
        VirtualDevice(
            "front-door", "Front door", {"contact": spec_for("contact")}, {"contact": True}
        ),
        VirtualDevice(
            "bath-heater", "Bathroom heater", {"power": spec_for("power")}, {"power": False}
        ),
        VirtualDevice("tv", "TV", {"power": spec_for("power")}, {"power": False}),
    ]


def used(blocks: list[str]) -> tuple[set[str], set[str], set[str], set[str], set[str]]:
    """Trigger, condition and action kinds, modes and missed policies the examples use."""
    trig: set[str] = set()
    cond: set[str] = set()
    act: set[str] = set()
    modes: set[str] = set()
    missed: set[str] = set()

    def conditions(items: list[dict[str, Any]]) -> None:
        for c in items:
            cond.add(c["type"])
            conditions(c.get("conditions", []))

    for block in blocks:
        for rule in yaml.safe_load(block):
            trig.update(t["type"] for t in rule["triggers"])
            conditions(rule.get("conditions", []))
            for a in rule["actions"]:
                act.add(a["type"])
                conditions([a[k] for k in ("until", "while") if k in a])
            modes.add(rule.get("mode", "single"))
            missed.add(rule.get("missed", "fire_once"))
    return trig, cond, act, modes, missed


def test_every_kind_and_mode_has_an_example() -> None:
    trig, cond, act, modes, missed = used(yaml_blocks())
    assert kinds(Trigger) - trig == set(), "triggers without an example in docs/rules.md"
    assert kinds(Condition) - cond == set(), "conditions without an example in docs/rules.md"
    assert kinds(Action) - act == set(), "actions without an example in docs/rules.md"
    assert {m.value for m in RunMode} - modes == set()
    assert {m.value for m in MissedPolicy} - missed == set()
    text = DOC.read_text()
    for words in ("fires when the temperature crosses 27, not while it stays above", "resolve"):
        assert words in text


async def test_examples_import_into_the_doc_home_and_the_edge_trigger_acts_as_written(
    tmp_path: Path,
) -> None:
    engine = RulesEngine(sinks=[ListSink()])
    home = VirtualIntegration(doc_home())
    config = {"timezone": "Asia/Tokyo", "latitude": 35.68, "longitude": 139.69}
    async with running_hub(
        tmp_path, [home], config=config, clock=ManualClock(T0), components=[engine]
    ) as rh:
        await rh.hub.wait_integrations()
        c = rh.client
        for scene in ("night", "morning"):
            resp = await c.put(
                f"/api/v1/scenes/{scene}", json={"devices": {"Hall light": {"power": False}}}
            )
            assert resp.status_code == 200, resp.text
        blocks = yaml_blocks()
        assert len(blocks) >= 12
        for block in blocks:
            resp = await c.post("/api/v1/rules/import", content=block)
            assert resp.status_code == 200, f"{resp.text}\n--- in docs/rules.md:\n{block}"
            ids = [r["id"] for r in yaml.safe_load(block)]
            assert resp.json()["imported"] == ids
        # Names are stored as ids (a renamed device keeps its rules).
        rule = (await c.get("/api/v1/rules/cool_when_hot")).json()
        assert rule["triggers"][0]["device"] == rule["actions"][0]["device"] == "aircon"

        def fired() -> int:
            return len([t for t in engine.traces("cool_when_hot") if t["result"] == "done"])

        async def temperature(value: float) -> None:
            await home.sense("aircon", {"temperature": value})

        await temperature(26.5)
        await temperature(27.5)  # crosses 27: fires
        await wait_for(lambda: fired() == 1)
        await temperature(28.0)  # stays above: nothing
        await temperature(29.0)
        await temperature(27.0)  # exactly 27 is not above: back below
        await temperature(27.5)  # crosses again: fires again
        await wait_for(lambda: fired() == 2)
        assert [t["trigger"]["value"] for t in engine.traces("cool_when_hot")] == [27.5, 27.5]


@pytest.mark.parametrize("device", ["Living room aircn", "hallway light"])
async def test_a_typo_in_a_doc_example_is_refused_with_the_known_names(
    tmp_path: Path, device: str
) -> None:
    engine = RulesEngine(sinks=[ListSink()])
    async with running_hub(
        tmp_path, [VirtualIntegration(doc_home())], clock=ManualClock(T0), components=[engine]
    ) as rh:
        await rh.hub.wait_integrations()
        block = yaml_blocks()[0].replace("Living room aircon", device)
        resp = await rh.client.post("/api/v1/rules/import", content=block)
        assert resp.status_code == 422
        assert "Hall light" in resp.text and device in resp.text
