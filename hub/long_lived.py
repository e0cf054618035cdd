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
restarts in the same process (after a restore) does not keep its predecessor.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect now, then leave every object alive now out of future collections."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Give frozen objects back to the collector (the hub holding them is stopping)."""
    gc.unfreeze()
