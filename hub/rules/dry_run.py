"""Dry runs: would a rule fire now, and if not, why not (nothing is executed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.rules.conditions import check
from hub.rules.deadlines import schedule_id
from hub.rules.model import (
    SCHEDULED_TRIGGERS,
    AvailabilityTrigger,
    NumericTrigger,
    RunMode,
    StateTrigger,
    Trigger,
)
from hub.rules.schedule import next_fire
from hub.rules.state import RuleState
from hub.rules.triggers import countdown_id, still_holds

if TYPE_CHECKING:
    from hub.rules.engine import RulesEngine


def dry_run(engine: RulesEngine, state: RuleState) -> dict[str, Any]:
    """Which triggers are active, which conditions hold, and whether the mode allows a run."""
    rule = state.rule
    triggers = []
    for i, trig in enumerate(rule.triggers):
        triggers.append({"index": i, "type": trig.type, **_trigger_now(engine, rule.id, i, trig)})
    conditions = []
    all_ok = True
    for j, cond in enumerate(rule.conditions):
        ok, why = check(cond, engine.facts)
        all_ok = all_ok and ok
        conditions.append({"index": j, "type": cond.type, "holds": ok, "reason": why})
    active = any(t["active"] for t in triggers)
    reasons = []
    if not rule.enabled:
        reasons.append("the rule is disabled")
    if not active:
        reasons.append("no trigger is active now")
    reasons += [
        f"condition {c['index']} fails: {c['reason']}" for c in conditions if not c["holds"]
    ]
    if state.active and rule.mode is RunMode.SINGLE:
        reasons.append("a run is still going and the mode is single")
    would = (
        rule.enabled and active and all_ok and not (state.active and rule.mode is RunMode.SINGLE)
    )
    return {
        "rule_id": rule.id,
        "would_fire": would,
        "conditions_hold": all_ok,
        "reasons": reasons,
        "triggers": triggers,
        "conditions": conditions,
        "actions": [a.model_dump(mode="json", by_alias=True) for a in rule.actions],
        "running": len(state.active),
    }


def _trigger_now(engine: RulesEngine, rule_id: str, i: int, trig: Trigger) -> dict[str, Any]:
    if isinstance(trig, StateTrigger | NumericTrigger | AvailabilityTrigger):
        held, why = still_holds(trig, engine.facts)
        out: dict[str, Any] = {"active": held, "reason": why}
        timer = engine.wheel.get(countdown_id(rule_id, i))
        if timer is not None:
            out["countdown_due"] = timer.due
        return out
    if isinstance(trig, SCHEDULED_TRIGGERS):
        timer = engine.wheel.get(schedule_id(rule_id, i))
        nxt = timer.due if timer else next_fire(trig, engine.hub.clock.now(), engine.place)
        return {"active": False, "reason": "fires at its time", "next": nxt}
    return {"active": False, "reason": f"fires on a {trig.type} event"}
