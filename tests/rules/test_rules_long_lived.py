"""The daemon keeps the garbage collector off rules imported in bulk (hub/long_lived.py).

A full collection walks every tracked object; frozen ones it skips. These tests freeze in the
test process itself, so each unfreezes again (what it froze would otherwise never be
collected for the rest of the run).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.app import Hub
from hub.config import HubConfig
from hub.long_lived import YOUNG_BUDGET
from hub.rules import Rule, RulesEngine


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _rules(count: int) -> list[Rule]:
    return [
        Rule.model_validate(
            {
                "id": f"bulk{i}",
                "triggers": [{"type": "event", "name": f"e{i}"}],
                "actions": [{"type": "event", "name": "done"}],
            }
        )
        for i in range(count)
    ]


def _tracked(objects: list[object]) -> int:
    """How many of `objects` the collector still walks."""
    ids = {id(o) for o in objects}
    return sum(1 for o in gc.get_objects() if id(o) in ids)


async def _import(tmp_path: Path, settle_gc: bool, count: int) -> tuple[int, int]:
    engine = RulesEngine(sinks=[])
    cfg = HubConfig(data_dir=tmp_path, api_host="127.0.0.1", api_port=0, advertise=False)
    hub = Hub(cfg, integrations=[], components=[engine], settle_gc=settle_gc)
    await hub.start()
    try:
        frozen_before = gc.get_freeze_count()
        saved = await engine.save_many(_rules(count))
        dicts = [engine.rules[r.id].rule.__dict__ for r in saved]
        return gc.get_freeze_count() - frozen_before, _tracked(list(dicts))
    finally:
        await hub.stop()


async def test_a_bulk_import_in_the_daemon_leaves_the_rules_out_of_collections(
    tmp_path: Path, unfrozen: None
) -> None:
    newly_frozen, still_walked = await _import(tmp_path, settle_gc=True, count=150)
    assert newly_frozen > 150 * 3  # each rule is several objects (model, lists, dicts)
    assert still_walked == 0


async def test_a_hub_in_a_test_process_freezes_nothing(tmp_path: Path, unfrozen: None) -> None:
    threshold = gc.get_threshold()
    newly_frozen, still_walked = await _import(tmp_path, settle_gc=False, count=150)
    assert newly_frozen == 0
    assert still_walked == 150
    assert gc.get_threshold() == threshold


async def test_a_small_change_does_not_pay_for_a_collection(
    tmp_path: Path, unfrozen: None
) -> None:
    newly_frozen, still_walked = await _import(tmp_path, settle_gc=True, count=5)
    assert newly_frozen == 0
    assert still_walked == 5


async def test_the_daemon_settles_once_its_start_is_over(
    tmp_path: Path, unfrozen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import hub.app

    monkeypatch.setattr(hub.app, "SETTLE_AFTER_START_S", 0.05)
    cfg = HubConfig(data_dir=tmp_path, api_host="127.0.0.1", api_port=0, advertise=False)
    daemon = Hub(cfg, integrations=[], settle_gc=True)
    await daemon.start()
    try:
        registry = daemon.registry.__dict__
        assert _tracked([registry]) == 1
        async with asyncio.timeout(10):
            while gc.get_freeze_count() == 0:
                await asyncio.sleep(0.02)
        assert _tracked([registry]) == 0
    finally:
        await daemon.stop()


async def test_a_stopping_daemon_hands_its_state_back_to_the_collector(
    tmp_path: Path, unfrozen: None
) -> None:
    # run_hub starts a new Hub in the same process after a restore: the old one must go.
    engine = RulesEngine(sinks=[])
    cfg = HubConfig(data_dir=tmp_path, api_host="127.0.0.1", api_port=0, advertise=False)
    daemon = Hub(cfg, integrations=[], components=[engine], settle_gc=True)
    await daemon.start()
    default = gc.get_threshold()
    await engine.save_many(_rules(150))
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_BUDGET, *default[1:])  # young objects die young
    await daemon.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == default
