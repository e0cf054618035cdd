"""What the rule engine's parts share: each rule's live state and its runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from hub.rules.model import EventAction, Rule

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


@dataclass(slots=True)
class RuleState:
    """A rule with its running, queued and traced runs."""

    # Plain lists: an empty deque costs ~600 bytes, and a hub holds thousands of rules that
    # mostly never queue; `keep_trace` trims traces to TRACES_PER_RULE.
    rule: Rule
    active: list[Run] = field(default_factory=list)
    queue: list[tuple[Context, Trace]] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)
    # Every action is an `event`: a run cannot wait, so it runs without a coroutine.
    instant: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.instant = _instant(self.rule)

    def replace_rule(self, rule: Rule) -> None:
        """The rule was changed; its runs, queue and traces stay with it."""
        self.rule = rule
        self.instant = _instant(rule)

    def keep_trace(self, trace: Trace) -> None:
        """Remember a trace, forgetting the oldest beyond TRACES_PER_RULE."""
        self.traces.append(trace)
        if len(self.traces) > TRACES_PER_RULE:
            del self.traces[0]


def _instant(rule: Rule) -> bool:
    return all(type(action) is EventAction for action in rule.actions)


Rules = dict[str, RuleState]
