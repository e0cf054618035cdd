"""What happens when a durable timer comes due, and re-arming them all after a restart.

Timed things are rows in SQLite (timers.py): `for` countdowns, time/cron/sun triggers,
reminders, and runs paused in a delay or wait. After a restart each row is armed again at its
stored due time; one that fell due while the hub was down fires once, late, as the rule's
`missed` policy says (fire_once, or skip with a trace that says so).
"""

from __future__ import annotations

from typing import Any, Protocol

from hub.clock import Clock
from hub.rules.conditions import check
from hub.rules.facts import HubFacts
from hub.rules.model import (
    SCHEDULED_TRIGGERS,
    Action,
    CronTrigger,
    MissedPolicy,
    Rule,
    StateTrigger,
    TimeTrigger,
    WaitAction,
)
from hub.rules.reminders import Reminders
from hub.rules.runs import Runner
from hub.rules.schedule import Place, ScheduledTrigger, next_fire
from hub.rules.state import Rules, RuleState, Run
from hub.rules.timers import Timer, TimerStore, TimerWheel
from hub.rules.traces import TraceBook
from hub.rules.triggers import still_holds
from hub.rules.waits import Spawn, Waiter, Waits, condition_devices


class Handler(Protocol):
    """What a due timer calls (`late`: it fell due while the hub was down)."""

    async def __call__(self, timer: Timer, late: bool = False) -> None:
        """Act on the due timer."""


def schedule_id(rule_id: str, i: int) -> str:
    """The timer id of scheduled trigger i (time, cron, sun)."""
    return f"{rule_id}#at{i}"


def _describe_schedule(trig: ScheduledTrigger) -> dict[str, Any]:
    if isinstance(trig, TimeTrigger):
        return {"at": trig.at.isoformat()}
    if isinstance(trig, CronTrigger):
        return {"cron": trig.cron}
    return {"event": trig.event, "offset": trig.offset}


class Deadlines:
    """Handlers for due timers, the arming of scheduled triggers, and restoring after restart."""

    def __init__(
        self,
        rules: Rules,
        clock: Clock,
        facts: HubFacts,
        place: Place,
        wheel: TimerWheel,
        store: TimerStore,
        traces: TraceBook,
        runner: Runner,
        waits: Waits,
        reminders: Reminders,
        spawn: Spawn,
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.facts = facts
        self.place = place
        self.wheel = wheel
        self.store = store
        self.traces = traces
        self.runner = runner
        self.waits = waits
        self.reminders = reminders
        self.spawn = spawn
        self._late: set[str] = set()  # overdue timers being handled at start-up

    # ------------------------------------------------------------------ `for` countdowns
    async def countdown_due(self, timer: Timer, late: bool = False) -> None:
        """A `for` countdown ended: fire if the trigger's state still holds."""
        if not await self.store.claim(timer):
            return
        state = self.rules.get(timer.rule_id)
        if state is None or not state.rule.enabled:
            return
        ctx = dict(timer.payload["context"])
        i = int(ctx["trigger"])
        trig = state.rule.triggers[i] if i < len(state.rule.triggers) else None
        held, why = still_holds(trig, self.facts)
        if held and not (isinstance(trig, StateTrigger) and trig.to is None):
            # This stretch of the state is used up; only leaving it re-arms (an "any change"
            # trigger has nothing to leave, so each change may start a countdown).
            self.wheel.hold(timer)
        if late and state.rule.missed is MissedPolicy.SKIP:
            trace = self.traces.for_timer(state, timer, "for")
            trace.update(result="skipped", reason="due while the hub was down (missed: skip)")
            self.traces.keep(state, trace)
            return
        if not held:
            trace = self.traces.for_timer(state, timer, "for")
            trace.update(result="skipped", reason=f"no longer held: {why}")
            self.traces.keep(state, trace)
            return
        if late:
            ctx["late"] = True
        self.runner.fire(timer.rule_id, ctx)

    # ------------------------------------------------------------------ schedules
    def arm_schedules(self, rule: Rule) -> None:
        """Arm the next firing of each time, cron and sun trigger of a rule."""
        now = self.clock.now()
        for i, trig in enumerate(rule.triggers):
            if not isinstance(trig, SCHEDULED_TRIGGERS):
                continue
            timer_id = schedule_id(rule.id, i)
            if self.wheel.get(timer_id) is not None or timer_id in self._late:
                continue
            due = next_fire(trig, now, self.place)
            if due is None:
                continue
            timer = Timer(timer_id, rule.id, "schedule", due, {"trigger": i})
            self.wheel.arm(timer, self.schedule_due)

    async def schedule_due(self, timer: Timer, late: bool = False) -> None:
        """A scheduled trigger's time came: move the timer to the next time, then fire."""
        state = self.rules.get(timer.rule_id)
        i = int(timer.payload["trigger"])
        trig = state.rule.triggers[i] if state and i < len(state.rule.triggers) else None
        if state is None or not state.rule.enabled or not isinstance(trig, SCHEDULED_TRIGGERS):
            await self.store.claim(timer)
            return
        now = self.clock.now()
        # Next firing counts from the due time (no drift), but never lands in the past.
        nxt_due = next_fire(trig, max(timer.due, now) if late else timer.due, self.place)
        if nxt_due is None:
            claimed = await self.store.claim(timer)
        else:
            nxt = timer.moved(nxt_due)
            claimed = await self.store.claim_and_move(timer, nxt)
            if claimed:
                self.wheel.arm(nxt, self.schedule_due, persist=False)
        if not claimed:
            return
        if late and state.rule.missed is MissedPolicy.SKIP:
            trace = self.traces.for_timer(state, timer, "schedule")
            trace.update(result="skipped", reason="missed while the hub was down (missed: skip)")
            self.traces.keep(state, trace)
            return
        ctx = {"trigger": i, "type": trig.type, "ts": timer.due, **_describe_schedule(trig)}
        if late:
            ctx["late"] = True
        self.runner.fire(timer.rule_id, ctx)

    # ------------------------------------------------------------------ paused runs
    async def _paused_due_after_restart(self, timer: Timer, late: bool = False) -> None:
        """A delay restored from the store ended, or a restored wait timed out."""
        self.waits.drop(timer.id)
        state = self.rules.get(timer.rule_id)
        action = self._paused_action(state, timer)
        outcome = "done"
        if isinstance(action, WaitAction):
            held, why = check(action.until, self.facts)
            outcome = f"condition held: {why}" if held else "timeout"
        await self._resume_after_restart(timer, late, outcome)

    @staticmethod
    def _paused_action(state: RuleState | None, timer: Timer) -> Action | None:
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
            self.traces.keep(state, trace)
            return
        trace["resumed"] = self.clock.now()
        if trace["steps"]:
            trace["steps"][-1]["result"] = outcome
        action = self._paused_action(state, timer)
        if outcome == "timeout" and isinstance(action, WaitAction) and action.on_timeout == "stop":
            trace.update(result="timeout", finished=self.clock.now())
            self.traces.keep(state, trace)
            return
        ctx = dict(timer.payload["context"])
        self.runner.start(state, ctx, trace, int(timer.payload["next"]))

    def _restore_waiter(self, state: RuleState, timer: Timer) -> None:
        action = self._paused_action(state, timer)
        if not isinstance(action, WaitAction):
            return

        async def met() -> None:
            await self._resume_after_restart(timer, False, "condition met")

        self.waits.add(Waiter(timer, action.until, condition_devices(action.until), met))

    # ------------------------------------------------------------------ restart
    async def restore(self) -> None:
        """Arm every stored timer; overdue ones fire once, late (or skip, per `missed`)."""
        now = self.clock.now()
        handlers: dict[str, Handler] = {
            "for": self.countdown_due,
            "remind": self.reminders.due,
            "schedule": self.schedule_due,
            "delay": self._paused_due_after_restart,
            "wait": self._paused_due_after_restart,
        }
        for timer in await self.store.load():
            state = self.rules.get(timer.rule_id)
            handler = handlers.get(timer.kind)
            if state is not None and state.rule.enabled and timer.kind == "held":
                self.wheel.restore_held(timer)
                continue
            if state is None or not state.rule.enabled or handler is None:
                self.store.delete(timer.id)
                continue
            if timer.due <= now:
                # Overdue: exactly one late firing, decided by the rule's `missed` policy.
                self._late.add(timer.id)
                self.spawn(self._late_firing(handler, timer), f"rule-late-{timer.id}")
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

    async def _late_firing(self, handler: Handler, timer: Timer) -> None:
        try:
            await handler(timer, True)
        finally:
            self._late.discard(timer.id)
