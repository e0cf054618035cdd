"""The rule engine: loads and stores rules, and wires the parts that run them.

The parts, one module each (the way Home Assistant keeps triggers, conditions and scripts
apart):

    index.py      which rules a bus event can touch (no scan of all rules)
    triggers.py   the hot path: bus event -> indexed triggers -> fire, or arm a `for` countdown
    runs.py       conditions and run modes (single/restart/queued/parallel), executing actions
    actions.py    what each action does; reminders.py the `remind` action
    waits.py      runs paused in `delay`/`wait` on durable timers
    deadlines.py  due timers (`for`, schedules, paused runs) and re-arming after a restart
    traces.py     the last runs of each rule, written to SQLite once a second
    dry_run.py    would a rule fire now, and why not

Timed things (`for:`, delays, reminders, time triggers) are rows in SQLite (timers.py) and
fire at their stored due time after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hub.errors import NotFound
from hub.events import (
    DeviceAvailability,
    NamedEvent,
    NotificationResolved,
    PresenceChanged,
    StateChanged,
)
from hub.rules.actions import Actions, Scenes
from hub.rules.checks import rule_problems
from hub.rules.deadlines import Deadlines
from hub.rules.dry_run import dry_run
from hub.rules.errors import RuleValidationError
from hub.rules.facts import HubFacts
from hub.rules.index import TriggerIndex
from hub.rules.model import CronTrigger, Rule, SunTrigger, compact
from hub.rules.notify import LogSink, NotificationSink, Notifier
from hub.rules.problems import Path, Problem
from hub.rules.reminders import Reminders
from hub.rules.runs import Runner
from hub.rules.schedule import NEEDS_LIBRARIES, Place, load_libraries
from hub.rules.state import Context, Rules, RuleState, Run, Trace
from hub.rules.timers import TimerStore, TimerWheel
from hub.rules.traces import TraceBook, in_words
from hub.rules.triggers import Triggers
from hub.rules.waits import Waits

if TYPE_CHECKING:
    from hub.api.router import Router
    from hub.app import Hub

_LOG = logging.getLogger(__name__)

# An import this large is state that stays; see Hub.settle_long_lived.
BULK_RULES = 100


async def _libraries_for(rules: Sequence[Rule]) -> None:
    """Load croniter/astral off the loop before arming a rule that needs them."""
    if any(isinstance(t, CronTrigger | SunTrigger) for r in rules for t in r.triggers):
        await load_libraries()


class RulesEngine:
    """Holds the rules and runs them; a HubComponent (start/stop/register_routes)."""

    # The parts, made in start() (they need the hub).
    store: TimerStore
    wheel: TimerWheel
    facts: HubFacts
    trace_book: TraceBook
    waits: Waits
    runner: Runner
    deadlines: Deadlines
    triggers: Triggers
    notifier: Notifier
    reminders: Reminders

    def __init__(self, sinks: Sequence[NotificationSink] | None = None) -> None:
        self._sinks_arg = sinks
        self.sinks: list[NotificationSink] = []
        self.rules: Rules = {}
        self.scenes: Scenes = {}
        self.index = TriggerIndex()
        self._hub: Hub | None = None
        self._unsubscribe: list[Any] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self.place = Place()
        self.started_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    @property
    def hub(self) -> Hub:
        """The hub this engine runs in."""
        if self._hub is None:
            raise RuntimeError("the rules engine is not started")
        return self._hub

    async def start(self, hub: Hub) -> None:
        """Load rules, scenes, traces and timers; subscribe to the bus; re-arm deadlines."""
        self._hub = hub
        cfg = hub.config
        self.place = Place(cfg.timezone, cfg.latitude, cfg.longitude)
        self.facts = HubFacts(hub, self.place)
        # The inbox always keeps (and publishes) what rules send; sinks only add delivery.
        self.sinks = list(self._sinks_arg) if self._sinks_arg is not None else [LogSink()]
        self.notifier = Notifier(hub.notifications, self.sinks)
        self.store = TimerStore(hub.db)
        self.wheel = TimerWheel(self.store, hub.clock)
        self.trace_book = TraceBook(self.rules, hub.db, hub.clock)
        self.waits = Waits(self.facts, hub.clock, self.wheel, self.store, self._spawn)
        reminders = Reminders(
            self.rules,
            hub.clock,
            self.facts,
            self.wheel,
            self.store,
            self.trace_book,
            self.notifier,
        )
        self.reminders = reminders
        self.actions = Actions(hub, self.scenes, self.notifier, reminders)
        self.runner = Runner(self.rules, hub, self.facts, self.trace_book, self.actions, self.waits)
        self.deadlines = Deadlines(
            self.rules,
            hub.clock,
            self.facts,
            self.place,
            self.wheel,
            self.store,
            self.trace_book,
            self.runner,
            self.waits,
            reminders,
            self._spawn,
        )
        self.triggers = Triggers(
            self.index,
            self.rules,
            self.facts,
            self.waits,
            self.wheel,
            self.runner.fire,
            self.deadlines.countdown_due,
        )
        self.started_at = hub.clock.now()
        stored = await hub.db.fetchall("SELECT id, doc, enabled FROM rules")
        if any(need in doc for _, doc, _ in stored for need in NEEDS_LIBRARIES):
            await load_libraries()  # before validating: the cron check uses croniter
        for rid, doc, enabled in stored:
            try:
                rule = Rule.model_validate({**json.loads(doc), "id": rid, "enabled": bool(enabled)})
            except ValueError:
                _LOG.exception("stored rule %s no longer validates; it stays off", rid)
                continue
            compact(rule)
            self.rules[rid] = RuleState(rule)
        for name, doc in await hub.db.fetchall("SELECT name, doc FROM rule_scenes"):
            self.scenes[name] = json.loads(doc)
        await self.trace_book.load()
        for state in self.rules.values():
            if state.rule.enabled:
                self.index.add(state.rule)
        self.store.start()
        await self.deadlines.restore()
        self.waits.check(list(self.waits.waiting))
        for state in self.rules.values():
            if state.rule.enabled:
                self.deadlines.arm_schedules(state.rule)
        bus = hub.bus
        self._unsubscribe = [
            bus.subscribe(self.triggers.on_state, [StateChanged]),
            bus.subscribe(self.triggers.on_availability, [DeviceAvailability]),
            bus.subscribe(self.triggers.on_presence, [PresenceChanged]),
            bus.subscribe(self.triggers.on_named, [NamedEvent]),
            bus.subscribe(self._on_resolved, [NotificationResolved]),
        ]
        self._flusher = asyncio.create_task(
            self.trace_book.flush_forever(), name="rule-trace-flush"
        )

    async def stop(self) -> None:
        """Stop runs and timers (their rows stay, to fire after the next start); save traces."""
        self.runner.stopping = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        runs = [r for s in self.rules.values() for r in s.active]
        for run in runs:
            if run.task is not None:
                run.task.cancel()
        tasks = [r.task for r in runs if r.task is not None] + list(self._background)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.wheel.stop()
        await self.store.stop()
        await self.flush_traces()

    def register_routes(self, router: Router) -> None:
        """Add /api/v1/rules..., /api/v1/scenes..."""
        from hub.rules.api import add_routes

        add_routes(router, self)

    def _on_resolved(self, event: NotificationResolved) -> None:
        # A resolved reminder stops at once (its next firing would also see it and stop).
        self.reminders.stop_resolved(event.rule_id, event.id, event.resolved_by)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ runs and traces
    def fire(self, rule_id: str, ctx: Context) -> Run | None:
        """A trigger fired: check conditions, then start a run as the rule's mode says."""
        return self.runner.fire(rule_id, ctx)

    def traces(self, rule_id: str) -> list[Trace]:
        """The last runs of a rule, newest last."""
        return [in_words(trace) for trace in self._state(rule_id).traces]

    async def flush_traces(self) -> None:
        """Write the traces that changed since the last flush; drop those that aged out."""
        await self.trace_book.flush()

    def dry_run(self, rule_id: str) -> dict[str, Any]:
        """Would this rule fire now, and if not, why not?"""
        return dry_run(self, self._state(rule_id))

    # ------------------------------------------------------------------ management
    def _state(self, rule_id: str) -> RuleState:
        state = self.rules.get(rule_id)
        if state is None:
            raise NotFound(f"no rule {rule_id!r}; GET /api/v1/rules lists them")
        return state

    def get(self, rule_id: str) -> Rule:
        """One rule."""
        return self._state(rule_id).rule

    def all(self) -> list[Rule]:
        """All rules, by id."""
        return [self.rules[k].rule for k in sorted(self.rules)]

    def problems(self, rule: Rule, base: Path = ()) -> list[tuple[Path, str]]:
        """Checks that need the hub: property names, location for sun triggers."""
        return rule_problems(rule, self.place, base)

    def validate(self, rule: Rule) -> None:
        """Raise RuleValidationError for hub-dependent problems."""
        found = self.problems(rule)
        if found:
            raise RuleValidationError(
                [Problem(".".join(str(p) for p in path), msg) for path, msg in found]
            )

    async def save(self, rule: Rule, *, create: bool = False) -> Rule:
        """Create or replace a rule (committed before it returns) and (re)arm it."""
        if not rule.id:
            rule = rule.model_copy(update={"id": "rule_" + secrets.token_hex(5)})
        self.validate(rule)
        if create and rule.id in self.rules:
            raise RuleValidationError(
                [
                    Problem(
                        "id", f"a rule {rule.id!r} exists; PUT /api/v1/rules/{rule.id} replaces it"
                    )
                ]
            )
        now = self.hub.clock.now()
        doc = json.dumps(rule.to_doc())
        await self.hub.db.execute(
            "INSERT INTO rules(id, doc, enabled, created, updated) VALUES(?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, enabled=excluded.enabled, "
            "updated=excluded.updated",
            (rule.id, doc, int(rule.enabled), now, now),
        )
        await _libraries_for([rule])
        self._replace(rule)
        return rule

    async def save_many(self, rules: Sequence[Rule]) -> list[Rule]:
        """Create or replace many rules in one transaction (imports, benchmarks)."""
        rules = [
            r if r.id else r.model_copy(update={"id": "rule_" + secrets.token_hex(5)})
            for r in rules
        ]
        problems = [
            Problem(".".join(str(p) for p in path), msg)
            for i, r in enumerate(rules)
            for path, msg in self.problems(r, (i,))
        ]
        if problems:
            raise RuleValidationError(problems)
        now = self.hub.clock.now()
        async with self.hub.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO rules(id, doc, enabled, created, updated) VALUES(?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET doc=excluded.doc, enabled=excluded.enabled, "
                "updated=excluded.updated",
                [(r.id, json.dumps(r.to_doc()), int(r.enabled), now, now) for r in rules],
            )
        await _libraries_for(rules)
        for rule in rules:
            self._replace(rule)
        if len(rules) >= BULK_RULES:
            self.hub.settle_long_lived()
        return rules

    def _replace(self, rule: Rule) -> None:
        compact(rule)
        old = self.rules.get(rule.id)
        if old is not None:
            self._retire(old, "the rule was changed")
            old.replace_rule(rule)
            state = old
        else:
            state = RuleState(rule)
            self.rules[rule.id] = state
        if rule.enabled:
            self.index.add(rule)
            self.deadlines.arm_schedules(rule)

    def _retire(self, state: RuleState, why: str) -> None:
        self.index.remove(state.rule)
        for run in list(state.active):
            self.runner.cancel(state, run, why)
        state.queue.clear()
        self.wheel.cancel_rule(state.rule.id)

    async def delete(self, rule_id: str) -> None:
        """Remove a rule, its timers and traces."""
        state = self._state(rule_id)
        self._retire(state, "the rule was deleted")
        del self.rules[rule_id]
        await self.hub.db.execute("DELETE FROM rules WHERE id=?", (rule_id,))
        await self.hub.db.execute("DELETE FROM rule_traces WHERE rule_id=?", (rule_id,))

    async def set_enabled(self, rule_id: str, enabled: bool) -> Rule:
        """Enable or disable a rule (disabling drops its pending countdowns and reminders)."""
        rule = self.get(rule_id)
        if rule.enabled == enabled:
            return rule
        return await self.save(rule.model_copy(update={"enabled": enabled}))

    # ------------------------------------------------------------------ scenes
    async def save_scene(self, name: str, devices: Mapping[str, Mapping[str, Any]]) -> None:
        """Store a scene: device id -> values."""
        doc = {d: dict(v) for d, v in devices.items()}
        await self.hub.db.execute(
            "INSERT OR REPLACE INTO rule_scenes(name, doc) VALUES(?,?)", (name, json.dumps(doc))
        )
        self.scenes[name] = doc

    async def delete_scene(self, name: str) -> None:
        """Forget a scene."""
        if name not in self.scenes:
            raise NotFound(f"no scene {name!r}")
        await self.hub.db.execute("DELETE FROM rule_scenes WHERE name=?", (name,))
        del self.scenes[name]

    async def run_scene(self, name: str) -> dict[str, Any]:
        """Apply a stored scene; returns the command id per device."""
        return await self.actions.run_scene(name)
