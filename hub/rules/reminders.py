"""The `remind` action: repeat a notice every so often while something stays true.

A reminder is one durable timer row, moved to its next occurrence each time it fires, with its
anchor (the trigger's time), how many were sent and its inbox entry (`notification`, named when
armed; every repeat updates that one entry). Occurrences that fell while the hub was down
count against `max`. Resolving the entry stops the reminder: the engine cancels the timer on
the `notification_resolved` event, and each firing first checks the inbox, so a timer row that
outlived a crash sends nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from hub.clock import Clock
from hub.core.notifications import new_notification_id
from hub.errors import NotFound
from hub.rules.conditions import Facts, check
from hub.rules.model import (
    Condition,
    MissedPolicy,
    NumericCondition,
    NumericTrigger,
    RemindAction,
    Rule,
    RunMode,
    StateCondition,
    StateTrigger,
)
from hub.rules.notify import Notice, Notifier
from hub.rules.state import Rules, RuleState, Run, Trace
from hub.rules.timers import Timer, TimerStore, TimerWheel
from hub.rules.traces import TraceBook


class Reminders:
    """Starts reminders and sends each one when its timer comes due."""

    def __init__(
        self,
        rules: Rules,
        clock: Clock,
        facts: Facts,
        wheel: TimerWheel,
        store: TimerStore,
        traces: TraceBook,
        notifier: Notifier,
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.facts = facts
        self.wheel = wheel
        self.store = store
        self.traces = traces
        self.notifier = notifier

    async def start(self, rule: Rule, action: RemindAction, index: int, run: Run) -> Any:
        """Arm the reminder of action `index` (one per action; restart mode re-anchors it)."""
        timer_id = f"{rule.id}#remind{index}"
        existing = self.wheel.get(timer_id)
        if existing is not None and rule.mode is not RunMode.RESTART:
            return {"already_reminding_since": existing.payload["anchor"]}
        anchor = float(run.context.get("ts", self.clock.now()))
        payload = {
            "anchor": anchor,
            "sent": 0,
            "action": index,
            "context": run.context,
            "notification": new_notification_id(),
        }
        timer = Timer(timer_id, rule.id, "remind", anchor + action.every, payload)
        self.wheel.arm(timer, self.due)
        if existing is not None and existing.payload.get("notification"):
            # Restarted: the new reminder (and its new entry) replaces the old one, so the
            # inbox does not keep an open entry that nothing repeats any more.
            await self._resolve(str(existing.payload["notification"]))
        return {"first_at": timer.due, "every": action.every, "max": action.max}

    @staticmethod
    def _while(rule: Rule, action: RemindAction, ctx: Mapping[str, Any]) -> Condition | None:
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

    async def due(self, timer: Timer, late: bool = False) -> None:
        """Send the reminder (if its condition still holds) and move the timer to the next."""
        state = self.rules.get(timer.rule_id)
        index = int(timer.payload["action"])
        if state is None or index >= len(state.rule.actions):
            await self.store.claim(timer)
            return
        action = state.rule.actions[index]
        if not isinstance(action, RemindAction):
            await self.store.claim(timer)
            return
        now = self.clock.now()
        anchor = float(timer.payload["anchor"])
        sent = int(timer.payload["sent"])
        # Timers armed before the inbox existed have no entry yet: they get one now.
        nid = str(timer.payload.get("notification") or new_notification_id())
        # Occurrences that passed while the hub was down count against `max`.
        slot = round((timer.due - anchor) / action.every)
        missed_slots = max(0, int((now - anchor) // action.every) - slot) if late else 0
        trace = self.traces.for_timer(state, timer, "remind")
        if await self._resolved(nid):
            if await self.store.claim(timer):
                self._stopped(state, trace, "the notification was resolved")
            return
        cond = self._while(state.rule, action, timer.payload.get("context", {}))
        if cond is not None:
            ok, why = check(cond, self.facts)
            if not ok:
                if await self.store.claim(timer):
                    trace.update(result="cleared", reason=why)
                    self.traces.keep(state, trace)
                    await self._resolve(nid)
                return
        skip = late and state.rule.missed is MissedPolicy.SKIP
        count = sent + (0 if skip else 1)
        last_slot = slot + missed_slots
        if last_slot >= action.max or count >= action.max:
            claimed = await self.store.claim(timer)
        else:
            nxt = timer.moved(anchor + (last_slot + 1) * action.every, sent=count, notification=nid)
            claimed = await self.store.claim_and_move(timer, nxt)
            if claimed:
                # Resolved while the move was being written: drop the moved row, send nothing.
                if await self._resolved(nid):
                    await self.store.claim(nxt)
                    self._stopped(state, trace, "the notification was resolved")
                    return
                self.wheel.arm(nxt, self.due, persist=False)
        if not claimed:
            return
        if skip:
            trace.update(result="skipped", reason="missed while the hub was down (missed: skip)")
        else:
            notice = Notice(
                now,
                state.rule.id,
                action.message,
                action.title,
                "remind",
                count,
                id=nid,
                source=timer.id,
            )
            trace["steps"].append({"type": "remind", "result": await self.notifier.send(notice)})
            trace["count"] = count
            trace["result"] = "done"
        trace["finished"] = self.clock.now()
        self.traces.keep(state, trace)

    def stop_resolved(self, rule_id: str, notification_id: str, by: str) -> bool:
        """The inbox entry was resolved: cancel its reminder's timer (row and task)."""
        state = self.rules.get(rule_id)
        if state is None:
            return False
        for index, action in enumerate(state.rule.actions):
            if not isinstance(action, RemindAction):
                continue
            timer = self.wheel.get(f"{rule_id}#remind{index}")
            if timer is not None and timer.payload.get("notification") == notification_id:
                self.wheel.cancel(timer.id)
                trace = self.traces.for_timer(state, timer, "remind")
                self._stopped(state, trace, f"the notification was resolved by {by}")
                return True
        return False

    def _stopped(self, state: RuleState, trace: Trace, why: str) -> None:
        trace.update(result="resolved", reason=why, finished=self.clock.now())
        self.traces.keep(state, trace)

    async def _resolved(self, notification_id: str) -> bool:
        inbox = self.notifier.inbox
        return inbox is not None and await inbox.is_resolved(notification_id)

    async def _resolve(self, notification_id: str) -> None:
        """The reminder's condition cleared: its entry needs nobody any more."""
        inbox = self.notifier.inbox
        if inbox is None:
            return
        with contextlib.suppress(NotFound):  # cleared before the first reminder was sent
            await inbox.resolve(notification_id, "rule")
