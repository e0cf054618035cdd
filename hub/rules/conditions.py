"""Condition evaluation with reasons, so traces and dry runs can say which one failed and why."""

from __future__ import annotations

import sys
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


class ValueCheck:
    """A `state` or `numeric` condition (on one reported value) as a run reads it.

    Its fields are copied into slots, and the parts of its words that do not depend on the value
    are made once: a rule's lone condition is tested on every run, and put into words for every
    trace written (reading a pydantic field took 27 ns against 7 for a slot, and each field read
    of a condition not touched since its rule last ran was a cache miss besides).
    """

    __slots__ = ("above", "below", "device", "numeric", "prop", "range", "shown", "wanted", "where")

    device: str
    prop: str
    where: str  # "device.property"
    numeric: bool
    above: float | None  # numeric
    below: float | None
    range: str  # numeric: "above 10" ...
    wanted: tuple[Any, ...]  # state: the values it holds for
    shown: str  # state: repr of the one wanted value, or of the list of them

    def __init__(self, cond: StateCondition | NumericCondition) -> None:
        self.device, self.prop = cond.device, cond.property
        # Interned: the rules on one property share it.
        self.where = sys.intern(f"{cond.device}.{cond.property}")
        if isinstance(cond, NumericCondition):
            self.numeric = True
            self.above, self.below = cond.above, cond.below
            self.range = describe_range(cond.above, cond.below)
            self.wanted, self.shown = (), ""
        else:
            self.numeric = False
            self.above = self.below = None
            self.range = ""
            wanted = [cond.is_] if cond.in_ is None else list(cond.in_)
            self.wanted = tuple(wanted)
            self.shown = repr(wanted[0] if len(wanted) == 1 else wanted)

    def holds(self, value: Any) -> bool:
        """Whether the condition holds for this value (MISSING holds for none)."""
        if self.numeric:
            return in_range(value, self.above, self.below)
        if value is MISSING:
            return False
        return any(same_value(w, value) for w in self.wanted)

    def test(self, facts: Facts) -> tuple[bool, Any]:
        """(holds, the value it was decided on)."""
        value = facts.value(self.device, self.prop)
        return self.holds(value), value

    def words(self, value: Any) -> str:
        """Why it held or failed for this value."""
        if value is MISSING:
            return f"{self.where} has no reported value"
        if self.numeric:
            verb = "is" if in_range(value, self.above, self.below) else "is not"
            return f"{self.where} = {value!r} {verb} {self.range}"
        ok = any(same_value(w, value) for w in self.wanted)
        return f"{self.where} is {value!r} ({'=' if ok else '≠'} {self.shown})"


class Because:
    """Why a condition on one value held or failed, put into words when someone reads it.

    Every run's trace says why its conditions held, and almost none is ever read: in a burst of
    10,000 runs the words (the value's repr, one f-string) were 0.8 of the 1.4 µs a condition
    cost. So a run keeps the condition and the value it saw (a reported value is replaced, not
    changed, by the next report), and the trace is put into words when it is read or written
    (`traces.in_words`).
    """

    __slots__ = ("check", "value")

    def __init__(self, check: ValueCheck, value: Any) -> None:
        self.check = check
        self.value = value

    def __str__(self) -> str:
        return self.check.words(self.value)

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


# By exact type (here and for ValueChecks): one lookup instead of a chain of isinstance() calls
# through pydantic's metaclass.
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
    if type(cond) is NumericCondition or type(cond) is StateCondition:
        on_value = ValueCheck(cond)
        ok, value = on_value.test(facts)
        return ok, on_value.words(value)
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


def lone_check(conds: Sequence[Condition]) -> ValueCheck | None:
    """The ValueCheck of a rule whose only condition is on one value (the usual rule)."""
    if len(conds) != 1:
        return None
    cond = conds[0]
    if type(cond) is NumericCondition or type(cond) is StateCondition:
        return ValueCheck(cond)
    return None


def check_all(conds: Sequence[Condition], facts: Facts) -> tuple[int | None, str]:
    """(index of the first failing condition or None, why)."""
    reasons = []
    for i, cond in enumerate(conds):
        ok, why = check(cond, facts)
        if not ok:
            return i, why
        reasons.append(why)
    return None, "; ".join(reasons)
