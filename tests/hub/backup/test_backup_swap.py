"""A restore interrupted at any point of the swap is finished by the next start, to exactly the
state an uninterrupted restore gives (each rename is atomic; the step count is journaled)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from backup_env import tree_digest

from hub.backup import apply_pending_restore, stage_restore
from hub.backup.restore import READY
from hub.backup.snapshot import BackupSource, make_archive
from hub.store import Database
from hub.store.lock import DataDirBusy, DataDirLock


async def _fill(data: Path, name: str) -> None:
    db = Database(data / "homehub.db")
    await db.open()
    await db.set_kv("hub_id", f"hub_{name}")
    await db.close()
    (data / "relay_identity.key").write_bytes(name.encode().ljust(32, b"."))
    (data / "homehub.toml").write_text(f'[hub]\nname = "{name}"\n')
    codes = data / "integrations" / "broadlink"
    codes.mkdir(parents=True)
    (codes / "learned.json").write_text(json.dumps({name: "26000c00"}))


def _state(folder: Path) -> dict[str, str]:
    return {
        k: v
        for k, v in tree_digest(folder).items()
        if not k.startswith((".before-restore", "backups"))
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("old")
    asyncio.run(_fill(src, "old"))
    path, _ = make_archive(BackupSource(src), src / "backups")
    return path


def _fresh_target(where: Path) -> Path:
    where.mkdir(parents=True)
    asyncio.run(_fill(where, "current"))
    return where


def test_interrupted_swaps_roll_forward(archive: Path, tmp_path: Path) -> None:
    clean = _fresh_target(tmp_path / "clean")
    stage_restore(archive, clean)
    apply_pending_restore(clean)
    expected = _state(clean)
    assert expected != {}, "the clean restore produced files"
    plan_steps = None
    for crash_after in range(0, 20):
        for journaled in (True, False):
            target = _fresh_target(tmp_path / f"t{crash_after}-{journaled}")
            stage_restore(archive, target)
            ready = target / READY
            steps = json.loads((ready / "plan.json").read_text())["steps"]
            plan_steps = len(steps)
            if crash_after > len(steps):
                shutil.rmtree(target)
                continue
            before = target / json.loads((ready / "plan.json").read_text())["before"]
            before.mkdir(exist_ok=True)
            for src, dst in steps[:crash_after]:
                if (target / src).exists():
                    (target / src).rename(target / dst)
            # The process died after the rename; the journal may or may not say so.
            if crash_after and journaled:
                (ready / "progress").write_text(str(crash_after))
            elif crash_after > 1:
                (ready / "progress").write_text(str(crash_after - 1))
            summary = apply_pending_restore(target)
            assert summary is not None
            assert _state(target) == expected, f"crash after step {crash_after}"
            assert not (target / READY).exists()
    assert plan_steps is not None and plan_steps >= 8


def test_the_lock_keeps_restores_away_from_a_running_hub(tmp_path: Path) -> None:
    running = DataDirLock(tmp_path)
    running.acquire()
    try:
        with pytest.raises(DataDirBusy, match="stop it first"):
            DataDirLock(tmp_path).acquire()
        assert DataDirLock(tmp_path).is_locked_elsewhere()
    finally:
        running.release()
    assert not DataDirLock(tmp_path).is_locked_elsewhere()
