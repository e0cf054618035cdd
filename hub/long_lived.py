"""Keep Python's cyclic garbage collector off the hub's long-lived state.

A hub holds its devices, shadows and rules for as long as it runs. CPython's collector still
walks every one of those objects in each full (generation 2) collection, and one such walk over
10,000 rules and devices took 76 ms here: one pause, at a random moment, in the middle of
whatever events were arriving (a quarter of a 10,000-event burst in bench/rules_vs_ha.py).

`settle()` collects once, then `gc.freeze()`s what is alive: later collections skip it, while
reference counting still frees any of it that is dropped. What becomes cyclic garbage after
being frozen is never reclaimed, which is why only the daemon does this (a test process
starts hundreds of hubs), and only after loads of state that stays: the end of a start and
a bulk import of rules; and a stopping hub hands it all back (`release()`), so a hub that
restarts in the same process (after a restore) does not keep its predecessor. The settled
daemon also collects its youngest objects less often (YOUNG_BUDGET).
"""

from __future__ import annotations

import gc

# Young objects allowed between collections of the youngest generation (CPython's default is
# 700). A burst of events makes thousands of short-lived runs, traces and events at once; at
# 700 a collection came every ~60 events, each moved what was still alive one generation up,
# and that pushed a full collection (tens of ms with 10,000 rules' traces) into nearly every
# 10,000-event burst after the first. Most of those objects are freed by reference counting
# within the burst, so a larger budget costs little memory and lets them die young.
YOUNG_BUDGET = 10_000
_DEFAULT_THRESHOLD = gc.get_threshold()


def settle() -> None:
    """Collect now, then leave every object alive now out of future collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_BUDGET, *_DEFAULT_THRESHOLD[1:])


def release() -> None:
    """Give frozen objects back to the collector (the hub holding them is stopping)."""
    gc.unfreeze()
    gc.set_threshold(*_DEFAULT_THRESHOLD)
