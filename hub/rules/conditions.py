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


def _state_test(cond: StateCondition, facts: Facts) -> tuple[bool, Any]:
    value = facts.value(cond.device, cond.property)
    if value is MISSING:
        return False, value
    if cond.in_ is None:
        return same_value(cond.is_, value), value
    return any(same_value(w, value) for w in cond.in_), value


def _state_words(cond: StateCondition, value: Any) -> str:
    where = f"{cond.device}.{cond.property}"
    if value is MISSING:
        return f"{where} has no reported value"
    wanted = [cond.is_] if cond.in_ is None else list(cond.in_)
    ok = any(same_value(w, value) for w in wanted)
    shown = wanted[0] if len(wanted) == 1 else wanted
    return f"{where} is {value!r} ({'=' if ok else '≠'} {shown!r})"


def _numeric_test(cond: NumericCondition, facts: Facts) -> tuple[bool, Any]:
    value = facts.value(cond.device, cond.property)
    return in_range(value, cond.above, cond.below), value  # MISSING is not in any range


def _numeric_words(cond: NumericCondition, value: Any) -> str:
    device, prop = cond.device, cond.property
    if value is MISSING:
        return f"{device}.{prop} has no reported value"
    above, below = cond.above, cond.below
    verb = "is" if in_range(value, above, below) else "is not"
    return f"{device}.{prop} = {value!r} {verb} {describe_range(above, below)}"


# Conditions on one reported value: whether it holds, and the value it was decided on, from
# which the words follow (the same words whenever they are made).
Test = Callable[[Any, Facts], tuple[bool, Any]]
Words = Callable[[Any, Any], str]
_TESTS: dict[type, tuple[Test, Words]] = {
    StateCondition: (_state_test, _state_words),
    NumericCondition: (_numeric_test, _numeric_words),
}


class Because:
    """Why a condition on one value held or failed, put into words when someone reads it.

    Every run's trace says why its conditions held, and almost none is ever read: in a burst of
    10,000 runs the words (the value's repr, one f-string) were 0.8 of the 1.4 µs a condition
    cost. So a run keeps the condition and the value it saw (a reported value is replaced, not
    changed, by the next report), and the trace is put into words when it is read or written
    (`traces.in_words`).
    """

    __slots__ = ("cond", "value")

    def __init__(self, cond: Condition, value: Any) -> None:  # a kind listed in _TESTS
        self.cond = cond
        self.value = value

    def __str__(self) -> str:
        return _TESTS[type(self.cond)][1](self.cond, self.value)

    def __repr__(self) -> str:
        return f"Because({self})"


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
# metaclass (every run checks its rule's conditions). Conditions on one value are in _TESTS.
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
    on_value = _TESTS.get(type(cond))
    if on_value is not None:
        test, words = on_value
        ok, value = test(cond, facts)
        return ok, words(cond, value)
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


def check_all(conds: Sequence[Condition], facts: Facts) -> tuple[int | None, str | Because]:
    """(index of the first failing condition or None, why). A lone condition on one value says
    why as a `Because`, put into words when read."""
    if len(conds) == 1:  # the usual rule: no list of reasons to join
        cond = conds[0]
        on_value = _TESTS.get(type(cond))
        if on_value is not None:
            ok, value = on_value[0](cond, facts)
            return (None if ok else 0), Because(cond, value)
        ok, why = check(cond, facts)
        return (None if ok else 0), why
    reasons = []
    for i, cond in enumerate(conds):
        ok, why = check(cond, facts)
        if not ok:
            return i, why
        reasons.append(why)
    return None, "; ".join(reasons)
