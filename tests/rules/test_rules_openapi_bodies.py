"""Valid rule and scene bodies conform to the hub's OpenAPI document (issue 12, point 12).

The document derived durations and times of day from the Python types (a number, a time), so
`for: 10m` or `at: "07:30"`, which the API takes, failed conformance checks of valid bodies.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from test_rules_yaml_api import EXAMPLE

from hub.rules import RulesEngine, load_rules_yaml
from hub.testing import running_hub


async def test_valid_rule_and_scene_bodies_conform_to_the_document(tmp_path: Path) -> None:
    async with running_hub(tmp_path, components=[RulesEngine()]) as rh:
        doc = (await rh.client.get("/api/v1/openapi.json")).json()
    paths = doc["paths"]
    rule_ref = paths["/api/v1/rules"]["post"]["requestBody"]["content"]["application/json"]
    scene_ref = paths["/api/v1/scenes/{name}"]["put"]["requestBody"]["content"]["application/json"]

    def validator(ref: dict[str, object]) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator({**ref["schema"], "components": doc["components"]})  # type: ignore[dict-item]

    rules = validator(rule_ref)
    bodies = [r.model_dump(mode="json", by_alias=True, exclude_none=True)
              for r in load_rules_yaml(EXAMPLE)]  # fmt: skip
    bodies.append(json.loads(json.dumps({"triggers": [{"type": "time", "at": "07:30"}],
                                         "actions": [{"type": "delay", "for": 90}]})))  # fmt: skip
    for body in bodies:
        problems = [e.message for e in rules.iter_errors(body)]
        assert problems == [], (body, problems)
    # And the document still refuses what the API refuses.
    assert list(rules.iter_errors({"triggers": [{"type": "time", "at": "25:00"}], "actions": []}))
    assert list(rules.iter_errors({"triggers": [{"type": "event", "name": "x", "for": "soon"}],
                                   "actions": []}))  # fmt: skip
    scene = {"devices": {"virtual-lamp": {"power": True, "brightness": 40}}}
    assert list(validator(scene_ref).iter_errors(scene)) == []
