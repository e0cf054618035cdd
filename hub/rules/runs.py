"""Runs: a fired trigger passes the conditions, the run mode decides, the actions execute.

Run modes (as in Home Assistant): `single` skips a trigger while a run is going, `restart`
cancels the running one, `queued` waits its turn (up to `max_runs`), `parallel` starts another
(up to `max_runs`). Every decision lands in the rule's trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import types
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

from hub.errors import HubError
from hub.events import RuleFired
from hub.rules.actions import Actions
from hub.rules.conditions import Because, Facts, check_all
from hub.rules.model import DelayAction, EventAction, RunMode, WaitAction
from hub.rules.state import Context, Rules, RuleState, Run, Trace
from hub.rules.traces import TraceBook, new_run_id
from hub.rules.waits import Waits

if TYPE_CHECKING:
    from hub.app import Hub

_LOG = logging.getLogger(__name__)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], yielded: Any) -> Generator[Any, Any, None]:
    """Go on with a coroutine whose first step already ran and yielded `yielded` (the future
    it waits for): the task that runs this hands every wake-up and cancellation on to it."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # cancellation and close go on to the run
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration:
                return


class Runner:
    """Starts, queues, cancels and executes the runs of rules."""

    def __init__(
        self,
        rules: Rules,
        hub: Hub,
        facts: Facts,
        traces: TraceBook,
        actions: Actions,
        waits: Waits,
    ) -> None:
        self.rules = rules
        self.hub = hub
        self.facts = facts
        self.traces = traces
        self.actions = actions
        self.waits = waits
        self._now = hub.clock.now  # bound once: every run asks it two or three times
        self.stopping = False
        self.started = 0  # runs started since the hub started (for the metrics)
        # Runs started since the last loop turn. The runs alone, not (state, run) pairs: each
        # pair lived until the next turn, and young collections scanned every one.
        self._ready: list[Run] = []
        self._ready_scheduled = False

    def fire(self, rule_id: str, ctx: Context) -> Run | None:
        """A trigger fired: check conditions, then start a run as the rule's mode says."""
        state = self.rules.get(rule_id)
        if state is None:
            return None
        plan = state.plan or state.make_plan()
        if not plan.enabled:
            return None
        trace: Trace = {
            "run_id": new_run_id(),
            "rule_id": rule_id,
            "ts": self._now(),
            "trigger": ctx,
            "result": "",
            "steps": [],
        }
        lone = plan.lone
        why: str | Because | None = None
        failed: int | None = None
        if lone is not None:
            # Kept as the condition and the value it saw, put into words when read.
            value = self.facts.value(lone.device, lone.prop)
            failed, why = (None if lone.holds(value) else 0), Because(lone, value)
        elif plan.conditions:
            failed, why = check_all(plan.conditions, self.facts)
        if failed is not None:
            trace["result"] = "condition_failed"
            trace["condition"] = {"index": failed, "reason": why}
            self.traces.keep(state, trace)
            return None
        if why is not None:
            trace["conditions"] = why
        if state.active:
            mode, max_runs = plan.mode, plan.max_runs
            if mode is RunMode.SINGLE:
                trace["result"] = "skipped"
                trace["reason"] = "already running (mode single)"
                self.traces.keep(state, trace)
                return None
            if mode is RunMode.RESTART:
                for old in list(state.active):
                    self.cancel(state, old, "restarted by a new trigger")
            elif mode is RunMode.QUEUED:
                if len(state.queue) >= max_runs:
                    trace["result"] = "skipped"
                    trace["reason"] = f"queue full ({max_runs} waiting)"
                    self.traces.keep(state, trace)
                    return None
                trace["result"] = "queued"
                state.queue.append((ctx, trace))
                self.traces.keep(state, trace)
                return None
            elif len(state.active) >= max_runs:
                trace["result"] = "skipped"
                trace["reason"] = f"{max_runs} runs already going (mode parallel)"
                self.traces.keep(state, trace)
                return None
        return self.start(state, ctx, trace, 0)

    def start(self, state: RuleState, ctx: Context, trace: Trace, first: int) -> Run:
        """Start a run at action `first` (0, or where a restored pause left off)."""
        run = Run(trace["run_id"], (state.plan or state.make_plan()).rule_id, ctx, trace)
        if first:  # a restored pause (a keyword argument per run cost 0.1 µs)
            run.first = first
        self.started += 1  # for the metrics
        trace["result"] = "running"
        self.traces.keep(state, trace)
        bus = self.hub.bus
        if bus.wants(RuleFired):
            bus.publish(RuleFired(ts=self._now(), rule_id=run.rule_id, run_id=run.id, trigger=ctx))
        state.active.append(run)
        # Started on the next loop turn, as a task's first step would be; see _start_ready.
        self._ready.append(run)
        if not self._ready_scheduled:
            self._ready_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_ready)
        return run

    def _start_ready(self) -> None:
        """Run the first step of every run started since the last loop turn.

        Most runs finish without waiting (an event, a condition that fails later...); a task
        for each was a third of a run's cost in the profile (creation, scheduling, a loop
        turn). So the first step runs here, in start order, one loop turn after `start()` as
        before; only a run that must wait (a device write, a delay) becomes a task, which goes
        on from where it stopped.
        """
        self._ready_scheduled = False
        ready, self._ready = self._ready, []
        if self.stopping:
            return  # as cancelling not-yet-started tasks at stop did: they never run
        rules = self.rules
        fire_named = self.actions.fire_named
        for run in ready:
            trace = run.trace
            if trace["result"] != "running":
                continue  # cancelled (mode restart, rule removed) before it began
            # Its rule's state: a changed rule keeps its state, and removing one cancels its runs.
            state = rules.get(run.rule_id)
            if state is None:
                continue
            events = (state.plan or state.make_plan()).events
            if events is not None and run.first == 0:
                # Only `event` actions: nothing in the run waits, so it runs here, without a
                # coroutine (the most common rule; making, starting and finishing a coroutine
                # was a twentieth of its run).
                steps = trace["steps"]
                try:
                    for index, (name, data) in enumerate(events):
                        step: dict[str, Any] = {"action": index, "type": "event"}
                        steps.append(step)
                        step["result"] = fire_named(name, data)
                    trace["result"] = "done"
                except Exception as err:  # as in _execute
                    _LOG.exception("rule %s: action %d failed", run.rule_id, len(steps) - 1)
                    steps[-1]["error"] = f"internal error: {err}"
                    trace["result"] = "error"
                finally:
                    self._finish(state, run)
                continue
            coro = self._execute(state, run, run.first)
            try:
                yielded = coro.send(None)
            except StopIteration:
                continue
            except Exception:
                _LOG.exception("rule %s: run %s failed", run.rule_id, run.id)
                continue
            task: asyncio.Task[Any] = asyncio.ensure_future(_resume(coro, yielded))
            task.set_name(f"rule-{run.id}")
            run.task = task

    def cancel(self, state: RuleState, run: Run, why: str) -> None:
        """Stop a run (and the timer it is paused on); its trace says why."""
        if run.task is not None:
            run.task.cancel()
        if run.delay_timer is not None:
            self.waits.wheel.cancel(run.delay_timer)
            self.waits.drop(run.delay_timer)
        run.trace["result"] = "cancelled"
        run.trace["reason"] = why
        self.traces.mark(run.trace)
        with contextlib.suppress(ValueError):
            state.active.remove(run)

    def _finish(self, state: RuleState, run: Run) -> None:
        """A run ended: its trace is final, and the next queued run may start."""
        trace = run.trace
        trace["finished"] = self._now()
        self.traces.mark(trace)
        active = state.active
        if run in active:  # not contextlib.suppress: a context manager per run cost more
            active.remove(run)
        if (
            state.queue
            and not active
            and not self.stopping
            and self.rules.get(run.rule_id) is state
        ):
            ctx, queued_trace = state.queue.pop(0)
            self.start(state, ctx, queued_trace, 0)

    async def _execute(self, state: RuleState, run: Run, first: int) -> None:
        rule = state.rule
        trace = run.trace
        try:
            for index in range(first, len(rule.actions)):
                action = rule.actions[index]
                step: dict[str, Any] = {"action": index, "type": action.type}
                trace["steps"].append(step)
                if isinstance(action, DelayAction | WaitAction):
                    outcome = await self.waits.pause(rule, run, action, index, step)
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
                if type(action) is EventAction:  # most common, and never waits
                    step["result"] = self.actions.fire_event(action)
                    continue
                try:
                    step["result"] = await self.actions.act(rule, action, index, run)
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
            self._finish(state, run)
