"""Restore: into a new folder, check, then swap; never half-restored.

1. `stage_restore` (hub running or not): decrypt if sealed, extract into
   `<data>/.restore-staging-<n>/`, checking every checksum; refuse a too-new archive; open the
   database, migrate it to this homehub's schema and run SQLite's integrity check. Then write
   the swap plan and rename the folder to `<data>/.restore-ready` in one step. Any failure
   deletes the staging folder and leaves the data folder exactly as it was.
2. `apply_pending_restore` (under the data-folder lock, before the hub opens its database):
   move the current files aside into `<data>/.before-restore-<time>/`, move the staged ones in.
   Each rename is atomic and the step count is journaled, so a crash midway is finished
   (rolled forward) by the next start.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hub.backup.archive import extract_archive, sha256_file
from hub.backup.manifest import ArchiveRejected, Manifest
from hub.backup.recovery_key import RecoveryKey
from hub.backup.sealed import is_sealed, unseal
from hub.backup.snapshot import CONFIG_NAME, DATA_PARTS, DB_NAME, IDENTITY_NAME
from hub.errors import HubError
from hub.store.migrations import MIGRATIONS

READY = ".restore-ready"
STAGING_PREFIX = ".restore-staging-"
BEFORE_PREFIX = ".before-restore-"
KEEP_BEFORE = 1
_PLAN = "plan.json"
_PROGRESS = "progress"
#: Kept as they are when the archive has none (a fresh machine's own config and identity);
#: everything else of DATA_PARTS, and the database's WAL files, is replaced or cleared.
_KEEP_IF_ABSENT = frozenset({CONFIG_NAME, IDENTITY_NAME})


class RestoreError(HubError):
    """A staged restore cannot be finished; the message says what is in the way."""


def newest_schema() -> int:
    """The database schema this homehub writes."""
    return max(m[0] for m in MIGRATIONS)


def _check_database(path: Path) -> None:
    async def migrate() -> None:
        from hub.store import Database

        db = Database(path)
        try:
            await db.open()
        finally:
            await db.close()

    try:
        conn = sqlite3.connect(path)
        try:
            # quick_check reads every page and row (not each index's order): the bytes were
            # already proven to be the ones backed up, so this looks for a database that was
            # broken before it was backed up, at a fraction of integrity_check's time.
            result = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise ArchiveRejected("damaged", f"the backup's database does not open: {err}") from None
    if not result or result[0] != "ok":
        raise ArchiveRejected(
            "damaged", f"the backup's database fails SQLite's check (quick_check): {result}"
        )
    try:
        _run_blocking(migrate)
    except (sqlite3.DatabaseError, HubError) as err:
        raise ArchiveRejected(
            "migration_failed", f"the backup's database could not be brought up to date: {err}"
        ) from None


def _run_blocking(coro_fn: Callable[[], Any]) -> None:
    """Run a coroutine to completion from blocking code (a worker thread, or a script)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro_fn())
        return
    with ThreadPoolExecutor(1) as pool:  # called on a loop's thread: use another
        pool.submit(lambda: asyncio.run(coro_fn())).result()


def stage_restore(
    archive: Path,
    data_dir: Path,
    *,
    key: RecoveryKey | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Manifest:
    """Check the archive and prepare `<data>/.restore-ready`; ArchiveRejected says why not."""
    report = progress or (lambda phase, fraction: None)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
    staging.mkdir(mode=0o700)
    try:
        source = archive
        if is_sealed(archive):
            if key is None:
                raise ArchiveRejected(
                    "encrypted", "this backup is encrypted; give the recovery key to restore it"
                )
            report("decrypt", 0.0)
            source = staging / "archive.tar.zst"
            unseal(archive, source, key)
            report("decrypt", 1.0)
        tree = staging / "tree"
        tree.mkdir()
        total = max(1, archive.stat().st_size * 4)  # rough: progress, not a promise
        manifest = extract_archive(
            source, tree, newest_schema(), lambda done: report("extract", min(1.0, done / total))
        )
        if source != archive:
            source.unlink()
        report("check", 0.0)
        db = tree / "data" / DB_NAME
        if not db.is_file():
            raise ArchiveRejected("damaged", "the archive holds no database")
        _check_database(db)
        report("check", 1.0)
        _write_plan(staging, tree, manifest)
        ready = data_dir / READY
        if ready.exists():
            if (ready / _PROGRESS).exists():
                raise RestoreError(
                    f"an earlier restore is half-applied in {ready}; start the hub once to "
                    "finish it, then restore again"
                )
            shutil.rmtree(ready)
        staging.rename(ready)
        return manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_plan(staging: Path, tree: Path, manifest: Manifest) -> None:
    staged_rel = Path(READY) / "tree"  # where the files will be once staging is renamed
    before = f"{BEFORE_PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"
    aside: list[list[str]] = []
    move_in: list[list[str]] = []
    names = [*DATA_PARTS, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"]
    for name in names:
        staged = tree / "data" / name
        if not staged.exists() and name in _KEEP_IF_ABSENT:
            continue
        aside.append([name, f"{before}/{name}"])
        if staged.exists():
            move_in.append([str(staged_rel / "data" / name), name])
    external = []
    for index, root in enumerate(manifest.external_dirs):
        folder = tree / "external" / str(index)
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                rel = path.relative_to(folder)
                staged = staged_rel / "external" / str(index) / rel
                external.append([str(staged), str(Path(root) / rel)])
    plan = {
        "manifest": manifest.summary(),
        "before": before,
        "steps": aside + move_in,
        "external": external,
    }
    (staging / _PLAN).write_text(json.dumps(plan, indent=1), "utf-8")


def _save_progress(ready: Path, done: int) -> None:
    tmp = ready / (_PROGRESS + ".tmp")
    with open(tmp, "w", encoding="ascii") as f:
        f.write(str(done))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(ready / _PROGRESS)


def has_pending_restore(data_dir: Path) -> bool:
    """Is a checked restore waiting for the next start?"""
    return (data_dir / READY / _PLAN).is_file()


def apply_pending_restore(data_dir: Path) -> dict[str, Any] | None:
    """Swap in a staged restore (caller holds the data-folder lock); a summary, or None."""
    for stale in data_dir.glob(STAGING_PREFIX + "*"):  # a restore that died while checking
        shutil.rmtree(stale, ignore_errors=True)
    ready = data_dir / READY
    if not (ready / _PLAN).is_file():
        return None
    plan = json.loads((ready / _PLAN).read_text("utf-8"))
    done = int((ready / _PROGRESS).read_text("ascii")) if (ready / _PROGRESS).exists() else 0
    (data_dir / plan["before"]).mkdir(exist_ok=True)
    steps: list[list[str]] = plan["steps"]
    for index in range(done, len(steps)):
        src, dst = data_dir / steps[index][0], data_dir / steps[index][1]
        if src.exists() or src.is_symlink():
            if dst.exists():
                raise RestoreError(
                    f"cannot finish restoring into {data_dir}: {dst} is in the way; move it "
                    "elsewhere and start the hub again"
                )
            src.rename(dst)
        _save_progress(ready, index + 1)
    written, conflicts = _restore_external(data_dir, plan["external"])
    shutil.rmtree(ready)
    befores = sorted(data_dir.glob(BEFORE_PREFIX + "*"))
    for old in befores[:-KEEP_BEFORE]:
        shutil.rmtree(old, ignore_errors=True)
    return {
        "restored": plan["manifest"],
        "previous_data": str(data_dir / plan["before"]),
        "external_written": written,
        "external_conflicts": conflicts,
    }


def _restore_external(data_dir: Path, pairs: list[list[str]]) -> tuple[list[str], list[str]]:
    """Files kept outside the data folder: written where missing, never overwritten."""
    written: list[str] = []
    conflicts: list[str] = []
    for staged_rel, target_text in pairs:
        staged, target = data_dir / staged_rel, Path(target_text)
        if target.exists():
            if target.is_file() and sha256_file(target) == sha256_file(staged):
                continue
            conflicts.append(target_text)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged, target)
            written.append(target_text)
        except OSError:
            conflicts.append(target_text)
    return written, conflicts
