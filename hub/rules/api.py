"""Endpoints of the rule engine: /api/v1/rules... and /api/v1/scenes..."""

from __future__ import annotations

import asyncio
import importlib
import json
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from hub.api.messages import ApiResponse
from hub.api.router import Call, Router
from hub.errors import Invalid
from hub.rules.devices import DeviceNames, device_problems, with_device_ids
from hub.rules.errors import RuleValidationError
from hub.rules.model import READ_ONLY_KEYS, Rule
from hub.rules.problems import Path, Problem
from relay.protocol import JsonTooDeep, loads_bounded

if TYPE_CHECKING:
    from hub.rules.engine import RulesEngine


async def _yaml_io() -> ModuleType:
    """hub.rules.yaml_io, imported off the loop the first time (reading it is file I/O)."""
    return await asyncio.to_thread(importlib.import_module, "hub.rules.yaml_io")


class SceneBody(BaseModel):
    """A scene: the values to ask of each device."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    devices: dict[str, dict[str, Any]] = Field(min_length=1, max_length=200)


def _import_text(raw: bytes) -> tuple[str, bool]:
    """The YAML text of an import body: {"yaml": ..., "replace"?}, a JSON string, or YAML."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the body must be UTF-8 text") from None
    try:
        data = loads_bounded(text)
    except JsonTooDeep as err:
        raise Invalid(str(err)) from None
    except json.JSONDecodeError:
        return text, False
    if isinstance(data, str):
        return data, False
    if isinstance(data, dict) and isinstance(data.get("yaml"), str):
        return data["yaml"], bool(data.get("replace", False))
    # Plain YAML that happens to be valid JSON (a flow list of rules) is still YAML.
    return text, False


def _device_names(engine: RulesEngine) -> DeviceNames:
    return DeviceNames({d: rec.name for d, rec in engine.hub.registry.devices.items()})


def _with_device_ids(engine: RulesEngine, rule: Rule) -> Rule:
    """Refuse unknown devices (with the known names); store names as ids."""
    devices = _device_names(engine)
    found = device_problems(rule, devices)
    if found:
        raise RuleValidationError(
            [Problem(".".join(str(p) for p in path), msg) for path, msg in found]
        )
    return with_device_ids(rule, devices)


#: Traces that are not runs of the rule's actions (a trigger that did not start one, or a
#: reminder that stopped): `last_run` skips them.
_NOT_RUNS = frozenset({"condition_failed", "skipped", "queued", "cleared", "resolved"})


def last_run(engine: RulesEngine, rule_id: str) -> dict[str, Any] | None:
    """When the rule last ran its actions (or sent a reminder), and how that went."""
    for trace in reversed(engine.traces(rule_id)):
        result = str(trace.get("result", ""))
        if result in _NOT_RUNS:
            continue
        return {
            "ts": trace.get("ts"),
            "finished": trace.get("finished"),
            "result": result,
            "ok": result != "error",
            "run_id": trace.get("run_id"),
        }
    return None


def _doc(engine: RulesEngine, rule: Rule) -> dict[str, Any]:
    return {**rule.to_doc(), "last_run": last_run(engine, rule.id)}


def add_routes(router: Router, engine: RulesEngine) -> None:
    """Register the rule and scene endpoints."""
    add = router.add

    @add(
        "GET",
        "/rules",
        "List rules, each with `enabled` and `last_run` ({ts, finished, result, ok, run_id} "
        "or null)",
        tag="rules",
    )
    async def list_rules(call: Call) -> Any:
        return {"rules": [_doc(engine, r) for r in engine.all()]}

    @add(
        "POST",
        "/rules",
        "Create a rule",
        body=Rule,
        status=201,
        tag="rules",
        read_only=READ_ONLY_KEYS,
        responses={422: "the rule is not valid; details.errors lists each field"},
    )
    async def create_rule(call: Call) -> Any:
        rule = await engine.save(_with_device_ids(engine, call.body), create=True)
        return _doc(engine, rule)

    @add("GET", "/rules/export", 'All rules as YAML ({"yaml": text})', tag="rules")
    async def export_rules(call: Call) -> Any:
        yaml_io = await _yaml_io()
        return {"yaml": yaml_io.dump_rules_yaml(engine.all())}

    @add(
        "POST",
        "/rules/import",
        "Create or replace rules from YAML (body: YAML text, a JSON string, or "
        '{"yaml": text, "replace": bool}); errors give line and field',
        tag="rules",
        responses={422: "the YAML is not valid; details.errors has line, column, field"},
    )
    async def import_rules(call: Call) -> Any:
        text, replace = _import_text(call.request.body)
        devices = _device_names(engine)

        def check(rule: Rule, base: Path) -> list[tuple[Path, str]]:
            return engine.problems(rule, base) + device_problems(rule, devices, base)

        yaml_io = await _yaml_io()
        rules = [with_device_ids(r, devices) for r in yaml_io.load_rules_yaml(text, check)]
        missing_ids = [i for i, r in enumerate(rules) if not r.id]
        if missing_ids:
            raise RuleValidationError(
                [Problem(f"{i}.id", "imported rules need an id") for i in missing_ids]
            )
        saved = await engine.save_many(rules)
        removed = []
        if replace:
            keep = {r.id for r in saved}
            for rule in engine.all():
                if rule.id not in keep:
                    await engine.delete(rule.id)
                    removed.append(rule.id)
        return {"imported": [r.id for r in saved], "removed": removed}

    @add("GET", "/rules/{rule_id}", "One rule, with `last_run`", tag="rules")
    async def get_rule(call: Call) -> Any:
        return _doc(engine, engine.get(call.params["rule_id"]))

    @add(
        "PUT",
        "/rules/{rule_id}",
        "Create or replace a rule (`last_run` from GET may be sent back; it is ignored)",
        body=Rule,
        tag="rules",
        read_only=READ_ONLY_KEYS,
    )
    async def put_rule(call: Call) -> Any:
        rule_id = call.params["rule_id"]
        body: Rule = call.body
        if body.id and body.id != rule_id:
            raise Invalid(f"the body's id {body.id!r} differs from the path's {rule_id!r}")
        rule = await engine.save(_with_device_ids(engine, body.model_copy(update={"id": rule_id})))
        return _doc(engine, rule)

    @add("DELETE", "/rules/{rule_id}", "Delete a rule", status=204, tag="rules")
    async def delete_rule(call: Call) -> Any:
        await engine.delete(call.params["rule_id"])
        return ApiResponse(204)

    @add("POST", "/rules/{rule_id}/enable", "Turn a rule on", tag="rules")
    async def enable(call: Call) -> Any:
        return _doc(engine, await engine.set_enabled(call.params["rule_id"], True))

    @add("POST", "/rules/{rule_id}/disable", "Turn a rule off", tag="rules")
    async def disable(call: Call) -> Any:
        return _doc(engine, await engine.set_enabled(call.params["rule_id"], False))

    @add(
        "POST",
        "/rules/{rule_id}/dry-run",
        "Would this rule fire now, and if not, why not? (runs nothing)",
        tag="rules",
    )
    async def dry_run(call: Call) -> Any:
        return engine.dry_run(call.params["rule_id"])

    @add("GET", "/rules/{rule_id}/traces", "The last runs of a rule, newest first", tag="rules")
    async def traces(call: Call) -> Any:
        return {"traces": list(reversed(engine.traces(call.params["rule_id"])))}

    @add("GET", "/scenes", "Stored scenes", tag="rules")
    async def scenes(call: Call) -> Any:
        return {"scenes": [{"name": k, "devices": v} for k, v in sorted(engine.scenes.items())]}

    @add("PUT", "/scenes/{name}", "Create or replace a scene", body=SceneBody, tag="rules")
    async def put_scene(call: Call) -> Any:
        names = _device_names(engine)
        unknown = [why for ref in call.body.devices if (why := names.problem(ref))]
        if unknown:
            raise Invalid("; ".join(unknown))
        devices = {names.resolve(ref) or ref: v for ref, v in call.body.devices.items()}
        await engine.save_scene(call.params["name"], devices)
        return {"name": call.params["name"], "devices": devices}

    @add("DELETE", "/scenes/{name}", "Delete a scene", status=204, tag="rules")
    async def delete_scene(call: Call) -> Any:
        await engine.delete_scene(call.params["name"])
        return ApiResponse(204)

    @add("POST", "/scenes/{name}/run", "Apply a scene now", status=202, tag="rules")
    async def run_scene(call: Call) -> Any:
        return {"commands": await engine.run_scene(call.params["name"])}
