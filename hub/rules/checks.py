"""Rule checks that need more than the rule itself: the vocabulary and the hub's location."""

from __future__ import annotations

from collections.abc import Iterable

from hub.model import PropertyValueError
from hub.model.vocabulary import spec_for
from hub.rules.model import (
    Condition,
    NumericCondition,
    NumericTrigger,
    RemindAction,
    Rule,
    StateCondition,
    StateTrigger,
    SunTrigger,
    WaitAction,
)
from hub.rules.problems import Path
from hub.rules.schedule import Place


def rule_problems(rule: Rule, place: Place, base: Path = ()) -> list[tuple[Path, str]]:
    """Problems only the hub can see: unknown property names, sun triggers without a location."""
    out: list[tuple[Path, str]] = []

    def prop(path: Path, name: str) -> None:
        try:
            spec_for(name)
        except PropertyValueError as err:
            out.append(((*base, *path, "property"), str(err)))

    for i, trig in enumerate(rule.triggers):
        if isinstance(trig, StateTrigger | NumericTrigger):
            prop(("triggers", i), trig.property)
        if isinstance(trig, SunTrigger) and (place.latitude is None or place.longitude is None):
            out.append(
                (
                    (*base, "triggers", i, "event"),
                    "sun triggers need the hub's location: set [location] latitude and "
                    "longitude in homehub.toml",
                )
            )

    def walk(conds: Iterable[Condition], path: Path) -> None:
        for j, c in enumerate(conds):
            if isinstance(c, StateCondition | NumericCondition):
                prop((*path, j), c.property)
            sub = getattr(c, "conditions", None)
            if sub:
                walk(sub, (*path, j, "conditions"))

    walk(rule.conditions, ("conditions",))
    for k, action in enumerate(rule.actions):
        if isinstance(action, RemindAction) and action.while_ is not None:
            walk([action.while_], ("actions", k, "while"))
        if isinstance(action, WaitAction):
            walk([action.until], ("actions", k, "until"))
    return out
