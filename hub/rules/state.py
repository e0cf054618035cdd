"""What the rule engine's parts share: each rule's live state and its runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hub.rules.conditions import ValueCheck, lone_check
from hub.rules.model import Condition, EventAction, Rule, RunMode

TRACES_PER_RULE = 20

Trace = dict[str, Any]
Context = dict[str, Any]


@dataclass(slots=True)
class Run:
    """One execution of a rule's actions."""

    id: str
    rule_id: str
    context: Context
    trace: Trace
    task: asyncio.Task[None] | None = None
    delay_timer: str | None = None
    first: int = 0  # the action it starts at: 0, or where a restored pause left off


class Plan:
    """What every run reads of its rule, in slots, made on the rule's first run.

    The rule is a frozen pydantic model: each field read took 27 ns against 7 for a slot, and a
    rule that had not run for a while missed the cache on each of its objects (the model, its
    field dict, its condition's, its action's). Made on the first run, not when the rule is
    loaded: a hub starts with all its rules in memory and most of them run rarely.
    """

    __slots__ = ("conditions", "enabled", "events", "lone", "max_runs", "mode", "rule_id")

    rule_id: str
    enabled: bool
    conditions: list[Condition]
    lone: ValueCheck | None  # the only condition, when it is on one value (the usual rule)
    mode: RunMode
    max_runs: int
    # Every action is an `event`: (name, data) of each. Such a run cannot wait, so it runs
    # without a coroutine (runs.py). None when some action is of another kind.
    events: tuple[tuple[str, dict[str, Any]], ...] | None

    def __init__(self, rule: Rule) -> None:
        self.rule_id = rule.id
        self.enabled = rule.enabled
        self.conditions = rule.conditions
        self.lone = lone_check(rule.conditions)
        self.mode = rule.mode
        self.max_runs = rule.max_runs
        events = [action for action in rule.actions if isinstance(action, EventAction)]
        everyone = len(events) == len(rule.actions)
        self.events = tuple((e.name, e.data) for e in events) if everyone else None


@dataclass(slots=True)
class RuleState:
    """A rule with its running, queued and traced runs."""

    # Plain lists: an empty deque costs ~600 bytes, and a hub holds thousands of rules that
    # mostly never queue; `keep_trace` trims traces to TRACES_PER_RULE.
    rule: Rule
    active: list[Run] = field(default_factory=list)
    queue: list[tuple[Context, Trace]] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    plan: Plan | None = field(init=False, default=None)  # see make_plan

    def make_plan(self) -> Plan:
        """The rule's Plan, made now if it has none yet."""
        if self.plan is None:
            self.plan = Plan(self.rule)
        return self.plan

    def replace_rule(self, rule: Rule) -> None:
        """The rule was changed; its runs, queue and traces stay with it."""
        self.rule = rule
        self.plan = None

    def keep_trace(self, trace: Trace) -> None:
        """Remember a trace, forgetting the oldest beyond TRACES_PER_RULE."""
        self.traces.append(trace)
        if len(self.traces) > TRACES_PER_RULE:
            del self.traces[0]


Rules = dict[str, RuleState]
