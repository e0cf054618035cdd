"""The rule engine: indexed triggers, conditions, run modes, actions, durable timers, traces.

A state change looks up `(device, property)` in a dict and touches only the rules listed
there; nothing scans all rules. Timed things (`for:`, delays, reminders, time triggers) are
rows in SQLite (see timers.py) and fire at their stored due time after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.errors import HubError, NotFound
from hub.events import (
    DeviceAvailability,
    NamedEvent,
    PresenceChanged,
    RuleFired,
    StateChanged,
)
from hub.rules.checks import rule_problems
from hub.rules.conditions import (
    check,
    check_all,
    describe_range,
    in_range,
    same_value,
)
from hub.rules.errors import RuleValidationError
from hub.rules.facts import HubFacts
from hub.rules.model import (
    SCHEDULED_TRIGGERS,
    Action,
    AvailabilityTrigger,
    CommandAction,
    Condition,
    CronTrigger,
    DelayAction,
    EventAction,
    EventTrigger,
    MissedPolicy,
    NotifyAction,
    NumericCondition,
    NumericTrigger,
    PresenceTrigger,
    RemindAction,
    Rule,
    RunMode,
    SceneAction,
    SetAction,
    StateCondition,
    StateTrigger,
    TimeTrigger,
    Trigger,
    WaitAction,
)
from hub.rules.notify import BusSink, LogSink, Notice, NotificationSink
from hub.rules.schedule import Place, ScheduledTrigger, next_fire
from hub.rules.timers import Timer, TimerStore, TimerWheel
from hub.rules.yaml_io import Path, Problem

if TYPE_CHECKING:
    from hub.api.router import Router
    from hub.app import Hub

_LOG = logging.getLogger(__name__)

TRACES_PER_RULE = 20
TRACE_FLUSH_S = 1.0


@dataclass(slots=True)
class Run:
    """One execution of a rule's actions."""

    id: str
    rule_id: str
    context: dict[str, Any]
    trace: dict[str, Any]
    task: asyncio.Task[None] | None = None
    delay_timer: str | None = None


@dataclass(slots=True)
class _RuleState:
    # Plain lists: an empty deque costs ~600 bytes, and a hub holds thousands of rules that
    # mostly never queue; `keep_trace` trims traces to TRACES_PER_RULE.
    rule: Rule
    active: list[Run] = field(default_factory=list)
    queue: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)

    def keep_trace(self, trace: dict[str, Any]) -> None:
        """Remember a trace, forgetting the oldest beyond TRACES_PER_RULE."""
        self.traces.append(trace)
        if len(self.traces) > TRACES_PER_RULE:
            del self.traces[0]


_Entry = tuple[str, int]  # (rule id, trigger index)


@dataclass(slots=True)
class _Waiter:
    """A run paused in a `wait` action until its condition holds (or the timeout timer fires)."""

    timer: Timer
    condition: Condition
    devices: frozenset[str]
    on_met: Callable[[], Awaitable[None]]


def _condition_devices(cond: Condition) -> set[str]:
    out: set[str] = set()
    device = getattr(cond, "device", None)
    if isinstance(device, str):
        out.add(device)
    for sub in getattr(cond, "conditions", None) or ():
        out |= _condition_devices(sub)
    return out


class RulesEngine:
    """Holds the rules and runs them; a HubComponent (start/stop/register_routes)."""

    def __init__(self, sinks: Sequence[NotificationSink] | None = None) -> None:
        self._sinks_arg = sinks
        self.sinks: list[NotificationSink] = []
        self.rules: dict[str, _RuleState] = {}
        self.scenes: dict[str, dict[str, dict[str, Any]]] = {}
        self._state_index: dict[tuple[str, str], list[_Entry]] = {}
        self._avail_index: dict[str, list[_Entry]] = {}
        self._event_index: dict[str, list[_Entry]] = {}
        self._presence_index: list[_Entry] = []
        self._hub: Hub | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        # rule id -> seq -> trace: only traces that changed since the last write are written.
        self._dirty_traces: dict[str, dict[int, dict[str, Any]]] = {}
        self._trace_seq = 0
        self._background: set[asyncio.Task[Any]] = set()
        self._flusher: asyncio.Task[None] | None = None
        self.place = Place()
        self.store: TimerStore
        self.wheel: TimerWheel
        self.facts: HubFacts
        self.started_at = 0.0
        self._stopping = False
        self._late: set[str] = set()  # overdue timers being handled at start-up
        # Runs paused in a `wait`, by the devices their condition reads (few; checked on change).
        self._waiters: dict[str, _Waiter] = {}
        self._waiters_by_device: dict[str, set[str]] = {}

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
        self.sinks = (
            list(self._sinks_arg)
            if self._sinks_arg is not None
            else [
                LogSink(),
                BusSink(hub.bus),
            ]
        )
        self.store = TimerStore(hub.db)
        self.wheel = TimerWheel(self.store, hub.clock)
        self.started_at = hub.clock.now()
        for rid, doc, enabled in await hub.db.fetchall("SELECT id, doc, enabled FROM rules"):
            try:
                rule = Rule.model_validate({**json.loads(doc), "id": rid, "enabled": bool(enabled)})
            except ValueError:
                _LOG.exception("stored rule %s no longer validates; it stays off", rid)
                continue
            self.rules[rid] = _RuleState(rule)
        for name, doc in await hub.db.fetchall("SELECT name, doc FROM rule_scenes"):
            self.scenes[name] = json.loads(doc)
        for rid, seq, doc in await hub.db.fetchall(
            "SELECT rule_id, seq, doc FROM rule_traces ORDER BY seq"
        ):
            self._trace_seq = max(self._trace_seq, int(seq))
            if rid in self.rules:
                self.rules[rid].keep_trace({**json.loads(doc), "seq": int(seq)})
        for state in self.rules.values():
            if state.rule.enabled:
                self._index(state.rule)
        self.store.start()
        await self._restore_timers()
        self._check_waiters(list(self._waiters))
        for state in self.rules.values():
            if state.rule.enabled:
                self._schedule_time_triggers(state.rule)
        bus = hub.bus
        self._unsubscribe = [
            bus.subscribe(self._on_state, [StateChanged]),
            bus.subscribe(self._on_availability, [DeviceAvailability]),
            bus.subscribe(self._on_presence, [PresenceChanged]),
            bus.subscribe(self._on_named, [NamedEvent]),
        ]
        self._flusher = asyncio.create_task(self._flush_loop(), name="rule-trace-flush")

    async def stop(self) -> None:
        """Stop runs and timers (their rows stay, to fire after the next start); save traces."""
        self._stopping = True
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

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ------------------------------------------------------------------ index
    def _index(self, rule: Rule) -> None:
        for i, trig in enumerate(rule.triggers):
            entry = (rule.id, i)
            if isinstance(trig, StateTrigger | NumericTrigger):
                self._state_index.setdefault((trig.device, trig.property), []).append(entry)
            elif isinstance(trig, AvailabilityTrigger):
                self._avail_index.setdefault(trig.device, []).append(entry)
            elif isinstance(trig, EventTrigger):
                self._event_index.setdefault(trig.name, []).append(entry)
            elif isinstance(trig, PresenceTrigger):
                self._presence_index.append(entry)

    def _unindex(self, rule: Rule) -> None:
        def drop(index: dict[Any, list[_Entry]], key: Any) -> None:
            entries = [e for e in index.get(key, ()) if e[0] != rule.id]
            if entries:
                index[key] = entries
            else:
                index.pop(key, None)

        for trig in rule.triggers:
            if isinstance(trig, StateTrigger | NumericTrigger):
                drop(self._state_index, (trig.device, trig.property))
            elif isinstance(trig, AvailabilityTrigger):
                drop(self._avail_index, trig.device)
            elif isinstance(trig, EventTrigger):
                drop(self._event_index, trig.name)
        self._presence_index = [e for e in self._presence_index if e[0] != rule.id]

    # ------------------------------------------------------------------ bus handlers
    def _on_state(self, ev: StateChanged) -> None:
        if ev.device in self._waiters_by_device:
            self._check_waiters(self._waiters_by_device[ev.device])
        index = self._state_index
        for key, new in ev.changes.items():
            entries = index.get((ev.device, key))
            if not entries:
                continue
            old = ev.previous.get(key)
            for rule_id, i in entries:
                trig = self.rules[rule_id].rule.triggers[i]
                if isinstance(trig, NumericTrigger):
                    inside = in_range(new, trig.above, trig.below)
                    crossed = inside and not in_range(old, trig.above, trig.below)
                    ctx_extra = {"range": describe_range(trig.above, trig.below)}
                else:
                    assert isinstance(trig, StateTrigger)
                    inside = True if trig.to is None else same_value(trig.to, new)
                    crossed = inside and (trig.from_ is None or same_value(trig.from_, old))
                    ctx_extra = {}
                ctx = {
                    "trigger": i,
                    "type": trig.type,
                    "ts": ev.ts,
                    "device": ev.device,
                    "property": key,
                    "value": new,
                    "previous": old,
                    **ctx_extra,
                }
                self._edge(rule_id, i, trig.for_, inside, crossed, ctx)

    def _edge(
        self,
        rule_id: str,
        i: int,
        hold: float | None,
        inside: bool,
        crossed: bool,
        ctx: dict[str, Any],
    ) -> None:
        """Fire on a crossing, or (with `for`) arm a countdown that leaving the range cancels."""
        if hold is None:
            if crossed:
                self.fire(rule_id, ctx)
            return
        timer_id = f"{rule_id}#for{i}"
        if not inside:
            if self.wheel.get(timer_id) is not None:
                self.wheel.cancel(timer_id)
            return
        if crossed and self.wheel.get(timer_id) is None:
            # An armed countdown is never restarted: the first crossing keeps its due time.
            ctx = {**ctx, "since": ctx["ts"], "ts": ctx["ts"] + hold}
            timer = Timer(timer_id, rule_id, "for", ctx["ts"], {"context": ctx})
            self.wheel.arm(timer, self._for_due)

    def _on_availability(self, ev: DeviceAvailability) -> None:
        if ev.device in self._waiters_by_device:
            self._check_waiters(self._waiters_by_device[ev.device])
        for rule_id, i in self._avail_index.get(ev.device, ()):
            trig = self.rules[rule_id].rule.triggers[i]
            assert isinstance(trig, AvailabilityTrigger)
            inside = ev.online == (trig.to == "online")
            ctx = {
                "trigger": i,
                "type": trig.type,
                "ts": ev.ts,
                "device": ev.device,
                "online": ev.online,
                "reason": ev.reason,
            }
            self._edge(rule_id, i, trig.for_, inside, inside, ctx)

    def _on_presence(self, ev: PresenceChanged) -> None:
        if self._waiters:
            self._check_waiters(set(self._waiters))
        if not self._presence_index:
            return
        home_now = sum(1 for h in self.facts.people().values() if h)
        for rule_id, i in self._presence_index:
            trig = self.rules[rule_id].rule.triggers[i]
            assert isinstance(trig, PresenceTrigger)
            if trig.person is not None and trig.person != ev.person:
                continue
            if trig.to == "home":
                hit = ev.home
            elif trig.to == "away":
                hit = not ev.home
            elif trig.to == "everyone_away":
                hit = not ev.home and home_now == 0
            else:
                hit = ev.home and home_now == 1
            if hit:
                ctx = {
                    "trigger": i,
                    "type": trig.type,
                    "ts": ev.ts,
                    "person": ev.person,
                    "home": ev.home,
                }
                self.fire(rule_id, ctx)

    def _on_named(self, ev: NamedEvent) -> None:
        for rule_id, i in self._event_index.get(ev.name, ()):
            ctx = {"trigger": i, "type": "event", "ts": ev.ts, "name": ev.name, "data": ev.data}
            self.fire(rule_id, ctx)

    # ------------------------------------------------------------------ waits
    def _add_waiter(self, waiter: _Waiter) -> None:
        timer_id = waiter.timer.id
        self._waiters[timer_id] = waiter
        for device in waiter.devices:
            self._waiters_by_device.setdefault(device, set()).add(timer_id)

    def _drop_waiter(self, timer_id: str) -> _Waiter | None:
        waiter = self._waiters.pop(timer_id, None)
        if waiter is not None:
            for device in waiter.devices:
                ids = self._waiters_by_device.get(device)
                if ids is not None:
                    ids.discard(timer_id)
                    if not ids:
                        del self._waiters_by_device[device]
        return waiter

    def _check_waiters(self, timer_ids: Iterable[str]) -> None:
        for timer_id in list(timer_ids):
            waiter = self._waiters.get(timer_id)
            if waiter is None or not check(waiter.condition, self.facts)[0]:
                continue
            self._drop_waiter(timer_id)
            self.wheel.cancel(timer_id, forget=False)
            self._spawn(waiter.on_met(), f"rule-wait-{timer_id}")

    # ------------------------------------------------------------------ firing
    def fire(self, rule_id: str, ctx: dict[str, Any]) -> Run | None:
        """A trigger fired: check conditions, then start a run as the rule's mode says."""
        state = self.rules.get(rule_id)
        if state is None or not state.rule.enabled:
            return None
        rule = state.rule
        trace: dict[str, Any] = {
            "run_id": secrets.token_hex(6),
            "rule_id": rule_id,
            "ts": self.hub.clock.now(),
            "trigger": ctx,
            "result": "",
            "steps": [],
        }
        if rule.conditions:
            failed, why = check_all(rule.conditions, self.facts)
            if failed is not None:
                trace["result"] = "condition_failed"
                trace["condition"] = {"index": failed, "reason": why}
                self._keep_trace(state, trace)
                return None
            trace["conditions"] = why
        mode = rule.mode
        if state.active:
            if mode is RunMode.SINGLE:
                trace["result"] = "skipped"
                trace["reason"] = "already running (mode single)"
                self._keep_trace(state, trace)
                return None
            if mode is RunMode.RESTART:
                for old in list(state.active):
                    self._cancel_run(state, old, "restarted by a new trigger")
            elif mode is RunMode.QUEUED:
                if len(state.queue) >= rule.max_runs:
                    trace["result"] = "skipped"
                    trace["reason"] = f"queue full ({rule.max_runs} waiting)"
                    self._keep_trace(state, trace)
                    return None
                trace["result"] = "queued"
                state.queue.append((ctx, trace))
                self._keep_trace(state, trace)
                return None
            elif len(state.active) >= rule.max_runs:
                trace["result"] = "skipped"
                trace["reason"] = f"{rule.max_runs} runs already going (mode parallel)"
                self._keep_trace(state, trace)
                return None
        return self._start_run(state, ctx, trace, 0)

    def _start_run(
        self, state: _RuleState, ctx: dict[str, Any], trace: dict[str, Any], start: int
    ) -> Run:
        run = Run(trace["run_id"], state.rule.id, ctx, trace)
        trace["result"] = "running"
        self._keep_trace(state, trace)
        self.hub.bus.publish(
            RuleFired(ts=self.hub.clock.now(), rule_id=state.rule.id, run_id=run.id, trigger=ctx)
        )
        state.active.append(run)
        run.task = asyncio.create_task(self._execute(state, run, start), name=f"rule-{run.id}")
        return run

    def _cancel_run(self, state: _RuleState, run: Run, why: str) -> None:
        if run.task is not None:
            run.task.cancel()
        if run.delay_timer is not None:
            self.wheel.cancel(run.delay_timer)
            self._drop_waiter(run.delay_timer)
        run.trace["result"] = "cancelled"
        run.trace["reason"] = why
        self._mark(state.rule.id, run.trace)
        with contextlib.suppress(ValueError):
            state.active.remove(run)

    async def _execute(self, state: _RuleState, run: Run, start: int) -> None:
        rule = state.rule
        trace = run.trace
        try:
            for index in range(start, len(rule.actions)):
                action = rule.actions[index]
                step: dict[str, Any] = {"action": index, "type": action.type}
                trace["steps"].append(step)
                if isinstance(action, DelayAction | WaitAction):
                    outcome = await self._pause(rule, run, action, index, step)
                    run.delay_timer = None
                    if outcome is None:
                        step["result"] = "cancelled"
                        return
                    step["result"] = outcome
                    if (
                        outcome == "timeout"
                        and isinstance(action, WaitAction)
                        and action.on_timeout == "stop"
                    ):
                        trace["result"] = "timeout"
                        return
                    continue
                try:
                    step["result"] = await self._act(rule, action, index, run)
                except HubError as err:
                    step["error"] = err.message
                    trace["result"] = "error"
                    return
                except Exception as err:
                    _LOG.exception("rule %s: action %d failed", rule.id, index)
                    step["error"] = f"internal error: {err}"
                    trace["result"] = "error"
                    return
            trace["result"] = "done"
        finally:
            trace["finished"] = self.hub.clock.now()
            self._mark(rule.id, trace)
            with contextlib.suppress(ValueError):
                state.active.remove(run)
            if (
                state.queue
                and not state.active
                and not self._stopping
                and self.rules.get(rule.id) is state
            ):
                ctx, queued_trace = state.queue.pop(0)
                self._start_run(state, ctx, queued_trace, 0)

    async def _pause(
        self,
        rule: Rule,
        run: Run,
        action: DelayAction | WaitAction,
        index: int,
        step: dict[str, Any],
    ) -> str | None:
        """Wait on a durable timer (delay, or a wait's timeout); the outcome, None if lost."""
        now = self.hub.clock.now()
        if isinstance(action, WaitAction):
            ok, why = check(action.until, self.facts)
            if ok:
                return f"condition held: {why}"
            due = now + action.timeout
            kind = "wait"
        else:
            due = now + action.for_
            kind = "delay"
        step["until"] = due
        timer_id = f"{rule.id}#run-{run.id}"
        run.delay_timer = timer_id
        outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        async def finish(timer: Timer, result: str) -> None:
            got = await self.store.claim(timer)
            if not outcome.done():
                outcome.set_result(result if got else None)

        payload = {"run_id": run.id, "next": index + 1, "context": run.context, "trace": run.trace}
        timer = Timer(timer_id, rule.id, kind, due, payload)
        if isinstance(action, WaitAction):
            self._add_waiter(
                _Waiter(
                    timer,
                    action.until,
                    frozenset(_condition_devices(action.until)),
                    lambda: finish(timer, "condition met"),
                )
            )

        async def on_due(t: Timer) -> None:
            self._drop_waiter(t.id)
            await finish(t, "timeout" if kind == "wait" else "done")

        self.wheel.arm(timer, on_due)
        try:
            return await outcome
        finally:
            self._drop_waiter(timer_id)

    async def _act(self, rule: Rule, action: Action, index: int, run: Run) -> Any:
        hub = self.hub
        if isinstance(action, EventAction):
            hub.bus.publish(NamedEvent(ts=hub.clock.now(), name=action.name, data=action.data))
            return "fired"
        if isinstance(action, SetAction):
            ack = await hub.registry.write_desired(action.device, action.values, ttl_s=action.ttl)
            return {"command_id": ack.command_id}
        if isinstance(action, CommandAction):
            ack = await hub.registry.send_command(action.device, action.command, action.params)
            return {"command_id": ack.command_id}
        if isinstance(action, SceneAction):
            return await self.run_scene(action.scene)
        if isinstance(action, NotifyAction):
            notice = Notice(hub.clock.now(), rule.id, action.message, action.title)
            return await self._notify(notice)
        if isinstance(action, RemindAction):
            return self._start_reminder(rule, action, index, run)
        raise TypeError(f"unknown action {action!r}")

    async def _notify(self, notice: Notice) -> dict[str, Any]:
        failures = {}
        for sink in self.sinks:
            try:
                await sink.send(notice)
            except Exception as err:
                _LOG.warning("notification sink %r failed: %s", sink, err)
                failures[type(sink).__name__] = str(err)
        return {"sent": notice.message, **({"failed": failures} if failures else {})}

    async def run_scene(self, name: str) -> dict[str, Any]:
        """Apply a stored scene; returns the command id per device."""
        scene = self.scenes.get(name)
        if scene is None:
            raise NotFound(f"no scene {name!r}; PUT /api/v1/scenes/{name} creates it")
        out = {}
        for device, values in scene.items():
            ack = await self.hub.registry.write_desired(device, values)
            out[device] = ack.command_id
        return out

    # ------------------------------------------------------------------ reminders
    def _start_reminder(self, rule: Rule, action: RemindAction, index: int, run: Run) -> Any:
        timer_id = f"{rule.id}#remind{index}"
        existing = self.wheel.get(timer_id)
        if existing is not None and rule.mode is not RunMode.RESTART:
            return {"already_reminding_since": existing.payload["anchor"]}
        anchor = float(run.context.get("ts", self.hub.clock.now()))
        payload = {"anchor": anchor, "sent": 0, "action": index, "context": run.context}
        timer = Timer(timer_id, rule.id, "remind", anchor + action.every, payload)
        self.wheel.arm(timer, self._remind_due)
        return {"first_at": timer.due, "every": action.every, "max": action.max}

    def _remind_while(self, rule: Rule, action: RemindAction, ctx: Mapping[str, Any]) -> Any:
        if action.while_ is not None:
            return action.while_
        # No explicit `while`: remind while the trigger's own state still holds.
        i = ctx.get("trigger")
        trig = rule.triggers[i] if isinstance(i, int) and i < len(rule.triggers) else None
        if isinstance(trig, StateTrigger) and trig.to is not None:
            return StateCondition.model_validate(
                {"device": trig.device, "property": trig.property, "is": trig.to}
            )
        if isinstance(trig, NumericTrigger):
            return NumericCondition(
                device=trig.device, property=trig.property, above=trig.above, below=trig.below
            )
        return None

    async def _remind_due(self, timer: Timer, late: bool = False) -> None:
        state = self.rules.get(timer.rule_id)
        index = int(timer.payload["action"])
        if state is None or index >= len(state.rule.actions):
            await self.store.claim(timer)
            return
        action = state.rule.actions[index]
        if not isinstance(action, RemindAction):
            await self.store.claim(timer)
            return
        now = self.hub.clock.now()
        anchor = float(timer.payload["anchor"])
        sent = int(timer.payload["sent"])
        # Occurrences that passed while the hub was down count against `max`.
        slot = round((timer.due - anchor) / action.every)
        missed_slots = max(0, int((now - anchor) // action.every) - slot) if late else 0
        trace = self._timer_trace(state, timer, "remind")
        cond = self._remind_while(state.rule, action, timer.payload.get("context", {}))
        if cond is not None:
            ok, why = check(cond, self.facts)
            if not ok:
                if await self.store.claim(timer):
                    trace.update(result="cleared", reason=why)
                    self._keep_trace(state, trace)
                return
        skip = late and state.rule.missed is MissedPolicy.SKIP
        count = sent + (0 if skip else 1)
        last_slot = slot + missed_slots
        if last_slot >= action.max or count >= action.max:
            claimed = await self.store.claim(timer)
        else:
            nxt = timer.moved(anchor + (last_slot + 1) * action.every, sent=count)
            claimed = await self.store.claim_and_move(timer, nxt)
            if claimed:
                self.wheel.arm(nxt, self._remind_due, persist=False)
        if not claimed:
            return
        if skip:
            trace.update(result="skipped", reason="missed while the hub was down (missed: skip)")
        else:
            notice = Notice(now, state.rule.id, action.message, action.title, "remind", count)
            trace["steps"].append({"type": "remind", "result": await self._notify(notice)})
            trace["count"] = count
            trace["result"] = "done"
        trace["finished"] = self.hub.clock.now()
        self._keep_trace(state, trace)

    # ------------------------------------------------------------------ `for` and schedules
    async def _for_due(self, timer: Timer, late: bool = False) -> None:
        if not await self.store.claim(timer):
            return
        state = self.rules.get(timer.rule_id)
        if state is None or not state.rule.enabled:
            return
        ctx = dict(timer.payload["context"])
        if late and state.rule.missed is MissedPolicy.SKIP:
            trace = self._timer_trace(state, timer, "for")
            trace.update(result="skipped", reason="due while the hub was down (missed: skip)")
            self._keep_trace(state, trace)
            return
        i = int(ctx["trigger"])
        trig = state.rule.triggers[i] if i < len(state.rule.triggers) else None
        held, why = self._still_holds(trig)
        if not held:
            trace = self._timer_trace(state, timer, "for")
            trace.update(result="skipped", reason=f"no longer held: {why}")
            self._keep_trace(state, trace)
            return
        if late:
            ctx["late"] = True
        self.fire(timer.rule_id, ctx)

    def _still_holds(self, trig: Trigger | None) -> tuple[bool, str]:
        if isinstance(trig, StateTrigger):
            value = self.facts.value(trig.device, trig.property)
            return same_value(trig.to, value), f"{trig.device}.{trig.property} is {value!r}"
        if isinstance(trig, NumericTrigger):
            value = self.facts.value(trig.device, trig.property)
            ok = in_range(value, trig.above, trig.below)
            return ok, f"{trig.device}.{trig.property} is {value!r}"
        if isinstance(trig, AvailabilityTrigger):
            online = self.facts.online(trig.device)
            return online == (trig.to == "online"), f"{trig.device} online={online}"
        return False, "the trigger changed"

    def _schedule_time_triggers(self, rule: Rule) -> None:
        now = self.hub.clock.now()
        for i, trig in enumerate(rule.triggers):
            if not isinstance(trig, SCHEDULED_TRIGGERS):
                continue
            timer_id = f"{rule.id}#at{i}"
            if self.wheel.get(timer_id) is not None or timer_id in self._late:
                continue
            due = next_fire(trig, now, self.place)
            if due is None:
                continue
            self.wheel.arm(Timer(timer_id, rule.id, "schedule", due, {"trigger": i}), self._at_due)

    async def _at_due(self, timer: Timer, late: bool = False) -> None:
        state = self.rules.get(timer.rule_id)
        i = int(timer.payload["trigger"])
        trig = state.rule.triggers[i] if state and i < len(state.rule.triggers) else None
        if state is None or not state.rule.enabled or not isinstance(trig, SCHEDULED_TRIGGERS):
            await self.store.claim(timer)
            return
        now = self.hub.clock.now()
        # Next firing counts from the due time (no drift), but never lands in the past.
        nxt_due = next_fire(trig, max(timer.due, now) if late else timer.due, self.place)
        if nxt_due is None:
            claimed = await self.store.claim(timer)
        else:
            nxt = timer.moved(nxt_due)
            claimed = await self.store.claim_and_move(timer, nxt)
            if claimed:
                self.wheel.arm(nxt, self._at_due, persist=False)
        if not claimed:
            return
        if late and state.rule.missed is MissedPolicy.SKIP:
            trace = self._timer_trace(state, timer, "schedule")
            trace.update(result="skipped", reason="missed while the hub was down (missed: skip)")
            self._keep_trace(state, trace)
            return
        ctx = {"trigger": i, "type": trig.type, "ts": timer.due, **_describe_schedule(trig)}
        if late:
            ctx["late"] = True
        self.fire(timer.rule_id, ctx)

    async def _paused_due_after_restart(self, timer: Timer, late: bool = False) -> None:
        """A delay restored from the store ended, or a restored wait timed out."""
        self._drop_waiter(timer.id)
        state = self.rules.get(timer.rule_id)
        action = self._paused_action(state, timer)
        outcome = "done"
        if isinstance(action, WaitAction):
            held, why = check(action.until, self.facts)
            outcome = f"condition held: {why}" if held else "timeout"
        await self._resume_after_restart(timer, late, outcome)

    def _paused_action(self, state: _RuleState | None, timer: Timer) -> Action | None:
        index = int(timer.payload.get("next", 0)) - 1
        if state is None or not 0 <= index < len(state.rule.actions):
            return None
        return state.rule.actions[index]

    async def _resume_after_restart(self, timer: Timer, late: bool, outcome: str) -> None:
        if not await self.store.claim(timer):
            return
        state = self.rules.get(timer.rule_id)
        if state is None or not state.rule.enabled:
            return
        run_id = timer.payload.get("run_id")
        # The waiting run (restored as a placeholder) and its old trace give way to the resumed one.
        state.active = [r for r in state.active if r.id != run_id]
        state.traces[:] = [t for t in state.traces if t.get("run_id") != run_id]
        trace = dict(timer.payload.get("trace") or {})
        trace.setdefault("steps", [])
        if late and state.rule.missed is MissedPolicy.SKIP:
            trace.update(result="skipped", reason=f"{timer.kind} ended while the hub was down")
            self._keep_trace(state, trace)
            return
        trace["resumed"] = self.hub.clock.now()
        if trace["steps"]:
            trace["steps"][-1]["result"] = outcome
        action = self._paused_action(state, timer)
        if outcome == "timeout" and isinstance(action, WaitAction) and action.on_timeout == "stop":
            trace.update(result="timeout", finished=self.hub.clock.now())
            self._keep_trace(state, trace)
            return
        ctx = dict(timer.payload["context"])
        self._start_run(state, ctx, trace, int(timer.payload["next"]))

    def _restore_waiter(self, state: _RuleState, timer: Timer) -> None:
        action = self._paused_action(state, timer)
        if not isinstance(action, WaitAction):
            return

        async def met() -> None:
            await self._resume_after_restart(timer, False, "condition met")

        devices = frozenset(_condition_devices(action.until))
        self._add_waiter(_Waiter(timer, action.until, devices, met))

    async def _restore_timers(self) -> None:
        now = self.hub.clock.now()
        handlers = {
            "for": self._for_due,
            "remind": self._remind_due,
            "schedule": self._at_due,
            "delay": self._paused_due_after_restart,
            "wait": self._paused_due_after_restart,
        }
        for timer in await self.store.load():
            state = self.rules.get(timer.rule_id)
            handler = handlers.get(timer.kind)
            if state is None or not state.rule.enabled or handler is None:
                self.store.delete(timer.id)
                continue
            if timer.due <= now:
                # Overdue: exactly one late firing, decided by the rule's `missed` policy.
                self._late.add(timer.id)
                self._spawn(self._late_firing(handler, timer), f"rule-late-{timer.id}")
            else:
                self.wheel.arm(timer, handler, persist=False)
                if timer.kind in ("delay", "wait"):
                    # A run paused in a delay or wait is still running (modes see it).
                    self._restore_waiter(state, timer)
                    payload = timer.payload
                    state.active.append(
                        Run(
                            str(payload.get("run_id")),
                            timer.rule_id,
                            dict(payload.get("context") or {}),
                            dict(payload.get("trace") or {"steps": []}),
                            delay_timer=timer.id,
                        )
                    )

    async def _late_firing(
        self, handler: Callable[[Timer, bool], Awaitable[None]], timer: Timer
    ) -> None:
        try:
            await handler(timer, True)
        finally:
            self._late.discard(timer.id)

    # ------------------------------------------------------------------ traces
    def _timer_trace(self, state: _RuleState, timer: Timer, kind: str) -> dict[str, Any]:
        return {
            "run_id": secrets.token_hex(6),
            "rule_id": state.rule.id,
            "ts": self.hub.clock.now(),
            "timer": {"kind": kind, "due": timer.due},
            "result": "",
            "steps": [],
        }

    def _keep_trace(self, state: _RuleState, trace: dict[str, Any]) -> None:
        if not any(t is trace for t in state.traces):
            self._trace_seq += 1
            trace["seq"] = self._trace_seq
            state.keep_trace(trace)
        self._mark(state.rule.id, trace)

    def _mark(self, rule_id: str, trace: dict[str, Any]) -> None:
        seq = trace.get("seq")
        if isinstance(seq, int):
            self._dirty_traces.setdefault(rule_id, {})[seq] = trace

    def traces(self, rule_id: str) -> list[dict[str, Any]]:
        """The last runs of a rule, newest last."""
        return list(self._state(rule_id).traces)

    async def flush_traces(self) -> None:
        """Write the traces that changed since the last flush; drop those that aged out."""
        if not self._dirty_traces:
            return
        dirty, self._dirty_traces = self._dirty_traces, {}
        async with self.hub.db.transaction() as conn:
            for rule_id, changed in dirty.items():
                state = self.rules.get(rule_id)
                live = [t["seq"] for t in state.traces] if state is not None else []
                marks = ",".join("?" * len(live)) or "NULL"
                await conn.execute(
                    f"DELETE FROM rule_traces WHERE rule_id=? AND seq NOT IN ({marks})",
                    (rule_id, *live),
                )
                await conn.executemany(
                    "INSERT OR REPLACE INTO rule_traces(rule_id, seq, ts, doc) VALUES(?,?,?,?)",
                    [
                        (rule_id, seq, t["ts"], json.dumps(t, default=str))
                        for seq, t in changed.items()
                        if seq in live
                    ],
                )

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(TRACE_FLUSH_S)
            try:
                await self.flush_traces()
            except Exception:
                _LOG.exception("writing rule traces failed; will retry")

    # ------------------------------------------------------------------ management
    def _state(self, rule_id: str) -> _RuleState:
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
        for rule in rules:
            self._replace(rule)
        return rules

    def _replace(self, rule: Rule) -> None:
        old = self.rules.get(rule.id)
        if old is not None:
            self._retire(old, "the rule was changed")
            old.rule = rule
            state = old
        else:
            state = _RuleState(rule)
            self.rules[rule.id] = state
        if rule.enabled:
            self._index(rule)
            self._schedule_time_triggers(rule)

    def _retire(self, state: _RuleState, why: str) -> None:
        self._unindex(state.rule)
        for run in list(state.active):
            self._cancel_run(state, run, why)
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

    # ------------------------------------------------------------------ dry run
    def dry_run(self, rule_id: str) -> dict[str, Any]:
        """Would this rule fire now, and if not, why not?"""
        state = self._state(rule_id)
        rule = state.rule
        triggers = []
        for i, trig in enumerate(rule.triggers):
            triggers.append({"index": i, "type": trig.type, **self._trigger_now(rule, i, trig)})
        conditions = []
        all_ok = True
        for j, cond in enumerate(rule.conditions):
            ok, why = check(cond, self.facts)
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
            rule.enabled
            and active
            and all_ok
            and not (state.active and rule.mode is RunMode.SINGLE)
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

    def _trigger_now(self, rule: Rule, i: int, trig: Trigger) -> dict[str, Any]:
        if isinstance(trig, StateTrigger | NumericTrigger | AvailabilityTrigger):
            held, why = self._still_holds(trig)
            out: dict[str, Any] = {"active": held, "reason": why}
            timer = self.wheel.get(f"{rule.id}#for{i}")
            if timer is not None:
                out["countdown_due"] = timer.due
            return out
        if isinstance(trig, SCHEDULED_TRIGGERS):
            timer = self.wheel.get(f"{rule.id}#at{i}")
            nxt = timer.due if timer else next_fire(trig, self.hub.clock.now(), self.place)
            return {"active": False, "reason": "fires at its time", "next": nxt}
        return {"active": False, "reason": f"fires on a {trig.type} event"}


def _describe_schedule(trig: ScheduledTrigger) -> dict[str, Any]:
    if isinstance(trig, TimeTrigger):
        return {"at": trig.at.isoformat()}
    if isinstance(trig, CronTrigger):
        return {"cron": trig.cron}
    return {"event": trig.event, "offset": trig.offset}
