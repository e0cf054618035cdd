"""Rule traces: the last runs of each rule in memory, written to SQLite once a second.

Only traces that changed since the last write are written, and those that aged out of a
rule's last TRACES_PER_RULE are deleted in the same transaction.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
from typing import TYPE_CHECKING

from hub.rules.conditions import Because
from hub.rules.state import Rules, RuleState, Trace
from hub.rules.timers import Timer
from hub.store import json_text

if TYPE_CHECKING:
    from hub.clock import Clock
    from hub.store import Database

_LOG = logging.getLogger(__name__)

# Run ids name a run in traces and durable timers: unique, not secret. secrets.token_hex()
# read the kernel's random device on every run (a tenth of a run's cost in the profile), and
# formatting a random number per run still cost twice what counting does. So each process
# counts up from a random start in [2**47, 2**48 - 2**40): twelve hex digits for the next
# 2**40 runs, and two hub processes' ranges are unlikely to meet.
_IDS = itertools.count(2**47 + random.SystemRandom().randrange(2**47 - 2**40))


def new_run_id() -> str:
    """Twelve hex digits, as before."""
    return "%x" % next(_IDS)  # noqa: UP031 (half the time of hex()[2:], a fifth less than f"")


TRACE_FLUSH_S = 1.0
_ALL = 2**62  # above every trace number: a rule without kept traces loses all its rows


def in_words(trace: Trace) -> Trace:
    """The trace with why its conditions held or failed in words (in place), as it is shown and
    stored: a run keeps them as a `Because` until then."""
    why = trace.get("conditions")
    if type(why) is Because:
        trace["conditions"] = str(why)
    failed = trace.get("condition")
    if failed is not None and type(failed.get("reason")) is Because:
        failed["reason"] = str(failed["reason"])
    return trace


class TraceBook:
    """Numbers traces, keeps them with their rule and writes the changed ones."""

    def __init__(self, rules: Rules, db: Database, clock: Clock) -> None:
        self.rules = rules
        self.db = db
        self.clock = clock
        # id(trace) -> trace: only traces that changed since the last write are written. One
        # flat map: every run marks its trace twice, and a map per rule made and filled on
        # each was half of what keeping a trace cost. Keyed by the dict's identity (held
        # here, so unique), not its number: numbers from before they were counted across all
        # rules may repeat between rules. The trace alone, not a (rule id, trace) pair (the
        # rule id is in the trace): every pair outlived its run until the next write, and
        # young collections, which scanned each, took 7% of a 10,000-run burst with them and
        # 3% without.
        self._dirty: dict[int, Trace] = {}
        self.seq = 0

    async def load(self) -> None:
        """Give each loaded rule its stored traces (and continue their numbering)."""
        for rid, seq, doc in await self.db.fetchall(
            "SELECT rule_id, seq, doc FROM rule_traces ORDER BY seq"
        ):
            self.seq = max(self.seq, int(seq))
            if rid in self.rules:
                self.rules[rid].keep_trace({**json.loads(doc), "seq": int(seq)})

    def for_timer(self, state: RuleState, timer: Timer, kind: str) -> Trace:
        """A new trace for something a timer (not a trigger) started."""
        return {
            "run_id": new_run_id(),
            "rule_id": state.rule.id,
            "ts": self.clock.now(),
            "timer": {"kind": kind, "due": timer.due},
            "result": "",
            "steps": [],
        }

    def keep(self, state: RuleState, trace: Trace) -> None:
        """Number a new trace and keep it with its rule; mark it to be written."""
        # A trace without a number is new (every run's, on the hot path): no scan for it.
        if "seq" not in trace or not any(t is trace for t in state.traces):
            self.seq += 1
            trace["seq"] = self.seq
            state.keep_trace(trace)
        self._dirty[id(trace)] = trace

    def mark(self, trace: Trace) -> None:
        """A kept trace changed: write it with the next flush."""
        if "seq" in trace:  # numbered: kept (every number is an int: see keep and load)
            self._dirty[id(trace)] = trace

    async def flush(self) -> None:
        """Write the traces that changed since the last flush; drop those that aged out."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        try:
            await self._write(dirty)
        except BaseException:
            # Failed, or cancelled (at stop) perhaps after it committed: written again by the
            # next flush as they are then (a trace written twice is one row).
            dirty.update(self._dirty)
            self._dirty = dirty
            raise

    async def _write(self, dirty: dict[int, Trace]) -> None:
        by_rule: dict[str, list[Trace]] = {}
        for trace in dirty.values():
            rule_id = trace["rule_id"]
            changed = by_rule.get(rule_id)
            if changed is None:
                by_rule[rule_id] = [trace]
            else:
                changed.append(trace)
        # A rule's kept traces are its newest, in numbering order (numbers only grow and
        # keep_trace drops the oldest), so what aged out is everything numbered below the
        # oldest kept one, and a changed trace numbered at or above it is kept (a rule deleted
        # and made again numbers its traces after every trace of the one before; looking for
        # each trace among the kept ones took 1.1 µs). Two statements for all rules: after a
        # burst thousands of rules changed, and a round trip to the database thread per rule
        # held the loop for a second.
        aged_out: list[tuple[str, int]] = []
        rows: list[tuple[str, int, float, str]] = []
        dumps = json_text.dumps
        for rule_id, changed in by_rule.items():
            state = self.rules.get(rule_id)
            kept = state.traces if state is not None else None
            oldest = kept[0]["seq"] if kept else _ALL
            aged_out.append((rule_id, oldest))
            rows.extend(
                (rule_id, t["seq"], t["ts"], dumps(in_words(t)))
                for t in changed
                if t["seq"] >= oldest
            )
        async with self.db.transaction() as conn:
            await conn.executemany("DELETE FROM rule_traces WHERE rule_id=? AND seq<?", aged_out)
            await conn.executemany(
                "INSERT OR REPLACE INTO rule_traces(rule_id, seq, ts, doc) VALUES(?,?,?,?)", rows
            )

    async def flush_forever(self) -> None:
        """Flush every TRACE_FLUSH_S until cancelled; a failed write is retried next time."""
        while True:
            await asyncio.sleep(TRACE_FLUSH_S)
            try:
                await self.flush()
            except Exception:
                _LOG.exception("writing rule traces failed; will retry")
