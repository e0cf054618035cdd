"""Condition evaluation with reasons, so traces and dry runs can say which one failed and why."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from hub.rules.model import (
    WEEKDAYS,
    AndCondition,
    Condition,
    NotCondition,
    NumericCondition,
    OrCondition,
    PresenceCondition,
    StateCondition,
    TimeCondition,
    WeekdayCondition,
)
from hub.rules.schedule import Place

_MISSING = object()


class Facts(Protocol):
    """What conditions look at: current values, who is home, the time and place."""

    place: Place

    def value(self, device: str, prop: str) -> Any:
        """The last reported value, or MISSING."""
        ...

    def now(self) -> float:
        """Epoch seconds."""
        ...

    def people(self) -> Mapping[str, bool]:
        """Person -> is home."""
        ...


MISSING = _MISSING


def same_value(expected: Any, actual: Any) -> bool:
    """Equality that treats on/off text as booleans and 1 == 1.0, but not True == 1."""
    if isinstance(expected, str) and isinstance(actual, bool):
        low = expected.lower()
        if low in ("on", "true"):
            return actual is True
        if low in ("off", "false"):
            return actual is False
    if isinstance(expected, bool) != isinstance(actual, bool):
        return False
    return bool(expected == actual)


def in_range(value: Any, above: float | None, below: float | None) -> bool:
    """A number strictly above `above` and strictly below `below` (when given)."""
    kind = type(value)
    if (
        kind is not float
        and kind is not int
        and (kind is bool or not isinstance(value, int | float))
    ):
        return False
    return (above is None or value > above) and (below is None or value < below)


@lru_cache(maxsize=4096)  # every numeric trigger and condition says it on every run
def describe_range(above: float | None, below: float | None) -> str:
    """'above 25', 'below 10', 'between 10 and 25'."""
    if above is not None and below is not None:
        return f"between {above:g} and {below:g}"
    return f"above {above:g}" if above is not None else f"below {below:g}"


Check = Callable[[Any, Facts], tuple[bool, str]]
# A condition made ready to test: facts -> (`held` if it holds else `failed`, why).
Test = Callable[[Facts], tuple[Any, str]]


def _state(cond: StateCondition, held: Any, failed: Any) -> Test:
    device, prop = cond.device, cond.property
    wanted = [cond.is_] if cond.in_ is None else list(cond.in_)
    shown = wanted[0] if len(wanted) == 1 else wanted
    missing = f"{device}.{prop} has no reported value"
    head = f"{device}.{prop} is "
    equal, unequal = f" (= {shown!r})", f" (≠ {shown!r})"

    def test(facts: Facts) -> tuple[Any, str]:
        value = facts.value(device, prop)
        if value is MISSING:
            return failed, missing
        if any(same_value(w, value) for w in wanted):
            return held, f"{head}{value!r}{equal}"
        return failed, f"{head}{value!r}{unequal}"

    return test


def _numeric(cond: NumericCondition, held: Any, failed: Any) -> Test:
    device, prop, above, below = cond.device, cond.property, cond.above, cond.below
    span = describe_range(above, below)
    missing = f"{device}.{prop} has no reported value"
    head = f"{device}.{prop} = "
    inside, outside = f" is {span}", f" is not {span}"

    def test(facts: Facts) -> tuple[Any, str]:
        value = facts.value(device, prop)
        if value is MISSING:
            return failed, missing
        if in_range(value, above, below):
            return held, f"{head}{value!r}{inside}"
        return failed, f"{head}{value!r}{outside}"

    return test


# Conditions on one reported value: what a rule's run checks most. Their text is made once
# per rule (compile_conditions), not on every run; check() builds the same test on the spot.
_PREPARED: dict[type, Callable[[Any, Any, Any], Test]] = {
    StateCondition: _state,
    NumericCondition: _numeric,
}


def _time(cond: TimeCondition, facts: Facts) -> tuple[bool, str]:
    local = datetime.fromtimestamp(facts.now(), facts.place.zone).time()
    after, before = cond.after, cond.before
    if after is not None and before is not None and after > before:
        ok = local >= after or local < before  # wraps midnight
    else:
        ok = (after is None or local >= after) and (before is None or local < before)
    span = f"{after or '00:00'}-{before or '24:00'}"
    return ok, f"local time {local:%H:%M:%S} {'is' if ok else 'is not'} in {span}"


def _weekday(cond: WeekdayCondition, facts: Facts) -> tuple[bool, str]:
    today = WEEKDAYS[datetime.fromtimestamp(facts.now(), facts.place.zone).weekday()]
    ok = today in cond.days
    return ok, f"today is {today} ({'in' if ok else 'not in'} {', '.join(cond.days)})"


def _presence(cond: PresenceCondition, facts: Facts) -> tuple[bool, str]:
    people = facts.people()
    home = sorted(p for p, h in people.items() if h)
    if cond.state == "someone_home":
        return bool(home), f"home: {', '.join(home) or 'nobody'}"
    if cond.state == "everyone_away":
        return not home, f"home: {', '.join(home) or 'nobody'}"
    is_home = bool(people.get(cond.person or "", False))
    ok = is_home == (cond.state == "home")
    return ok, f"{cond.person} is {'home' if is_home else 'away'}"


def _and(cond: AndCondition, facts: Facts) -> tuple[bool, str]:
    return _all(cond.conditions, facts)


def _or(cond: OrCondition, facts: Facts) -> tuple[bool, str]:
    reasons = []
    for sub in cond.conditions:
        ok, why = check(sub, facts)
        if ok:
            return True, why
        reasons.append(why)
    return False, "none held: " + "; ".join(reasons)


def _not(cond: NotCondition, facts: Facts) -> tuple[bool, str]:
    for sub in cond.conditions:
        ok, why = check(sub, facts)
        if ok:
            return False, f"not: {why}"
    return True, "none of the negated conditions held"


# By exact type: one lookup instead of a chain of isinstance() calls through pydantic's
# metaclass.
_CHECKS: dict[type, Check] = {
    TimeCondition: _time,
    WeekdayCondition: _weekday,
    PresenceCondition: _presence,
    AndCondition: _and,
    OrCondition: _or,
    NotCondition: _not,
}


def check(cond: Condition, facts: Facts) -> tuple[bool, str]:
    """(holds, why) for one condition."""
    prepare = _PREPARED.get(type(cond))
    if prepare is not None:
        return prepare(cond, True, False)(facts)  # type: ignore[no-any-return]
    how = _CHECKS.get(type(cond))
    if how is None:
        raise TypeError(f"unknown condition {cond!r}")
    return how(cond, facts)


def _all(conds: Sequence[Condition], facts: Facts) -> tuple[bool, str]:
    reasons = []
    for sub in conds:
        ok, why = check(sub, facts)
        if not ok:
            return False, why
        reasons.append(why)
    return True, "; ".join(reasons)


def _test(cond: Condition, held: Any, failed: Any) -> Test:
    prepare = _PREPARED.get(type(cond))
    if prepare is not None:
        return prepare(cond, held, failed)
    if type(cond) not in _CHECKS:
        raise TypeError(f"unknown condition {cond!r}")

    def test(facts: Facts) -> tuple[Any, str]:
        ok, why = check(cond, facts)
        return (held if ok else failed), why

    return test


AllTest = Callable[[Facts], tuple[int | None, str]]


def compile_conditions(conds: Sequence[Condition]) -> AllTest | None:
    """A rule's conditions made ready to test on every run (None: it has none).

    The test gives (index of the first failing condition or None, why), the text exactly as
    check() words it. A rule's conditions never change (the models are frozen; an edited
    rule is compiled again), so names and ranges are put into words once, here.
    """
    if not conds:
        return None
    if len(conds) == 1:  # the usual rule: its one test answers in the final form directly
        return _test(conds[0], None, 0)
    tests = [_test(cond, True, False) for cond in conds]

    def every(facts: Facts) -> tuple[int | None, str]:
        reasons = []
        for i, test in enumerate(tests):
            ok, why = test(facts)
            if not ok:
                return i, why
            reasons.append(why)
        return None, "; ".join(reasons)

    return every
