"""Make an archive of a hub's data folder, consistently, while the hub keeps running.

The database is copied with SQLite's online backup API from a separate read-only connection in
one step: that is one read transaction, so the copy is exactly the database as of one commit,
and in WAL mode the hub's writers carry on meanwhile (never a file copy of a live database).
Then the other state files, each small and written atomically by its owner:

    homehub.toml            the config (or the file named with --config)
    relay_identity.key      the hub's identity (the relay's hub id, phones' and voice links)
    integrations/...        learned IR codes and IR device stores
    ir_profiles/...         your own IR code sets, if kept in the data folder
    + store_path, ir_store_path and profile_dirs of [integrations.*] that point elsewhere

All blocking; callers run `make_archive` in a worker thread.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.backup.archive import SUFFIX, sha256_file, write_archive
from hub.backup.manifest import FileEntry, Manifest
from hub.errors import HubError

DB_NAME = "homehub.db"
CONFIG_NAME = "homehub.toml"
IDENTITY_NAME = "relay_identity.key"
#: Top-level entries of the data folder that a backup holds and a restore replaces, by role.
DATA_PARTS: Mapping[str, str] = {
    DB_NAME: "database",
    CONFIG_NAME: "config",
    IDENTITY_NAME: "identity",
    "integrations": "integration",
    "ir_profiles": "profile",
}
#: Keys of [integrations.<name>] naming files or folders of state kept outside the data folder.
EXTERNAL_FILE_KEYS = ("store_path", "ir_store_path")
EXTERNAL_DIR_KEYS = ("profile_dirs",)
_SKIP_SUFFIXES = (".tmp", ".partial")

#: Counted into the manifest (table -> what people call it); missing tables count as absent.
_COUNTS = {
    "devices": "SELECT COUNT(*) FROM devices",
    "rules": "SELECT COUNT(*) FROM rules",
    "rule_timers": "SELECT COUNT(*) FROM rule_timers",
    "scenes": "SELECT COUNT(*) FROM rule_scenes",
    "commands": "SELECT COUNT(*) FROM commands",
    "tokens": "SELECT COUNT(*) FROM tokens WHERE revoked IS NULL",
    "history_samples": "SELECT (SELECT COUNT(*) FROM history) + "
    "(SELECT COUNT(*) FROM history_rollup)",
}


class NothingToBackUp(HubError):
    """The data folder has no database yet."""

    status = 404


@dataclass(frozen=True)
class BackupSource:
    """Where a hub's state lives."""

    data_dir: Path
    config_file: Path | None = None
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    hub_name: str = ""
    software_version: str = ""

    @property
    def db_path(self) -> Path:
        """The live database."""
        return self.data_dir / DB_NAME

    def external_paths(self) -> list[Path]:
        """Configured files and folders of state outside the data folder (absolute)."""
        out: list[Path] = []
        for section in self.integrations.values():
            values: list[Any] = [section.get(k) for k in EXTERNAL_FILE_KEYS]
            for key in EXTERNAL_DIR_KEYS:
                raw = section.get(key) or ()
                values.extend(raw if isinstance(raw, list | tuple) else [raw])
            for value in values:
                if not isinstance(value, str) or not value:
                    continue
                path = Path(value).expanduser().absolute()
                inside = path == self.data_dir or self.data_dir.absolute() in path.parents
                if not inside and path not in out:
                    out.append(path)
        return out


def new_backup_id(now: float) -> str:
    """Sortable and unique: ``20261101T031500Z-3fa9``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stamp}-{secrets.token_hex(2)}"


def archive_name(backup_id: str) -> str:
    """The file name of a backup in the backups folder."""
    return f"homehub-{backup_id}{SUFFIX}"


def snapshot_database(db_path: Path, dest: Path) -> int:
    """Copy the live database to `dest` in one read transaction; its schema version."""
    if not db_path.exists():
        raise NothingToBackUp(f"no database at {db_path}: nothing to back up yet")
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            # A scratch copy: the archive is what gets fsynced, so skip the copy's journal.
            dst.execute("PRAGMA journal_mode=OFF")
            dst.execute("PRAGMA synchronous=OFF")
            src.backup(dst)  # pages=-1: all at once, one snapshot
            # A file that opens by itself, without the -wal of the original.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        row = src.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0
    finally:
        src.close()


def count_contents(db_path: Path) -> dict[str, int]:
    """What the snapshot holds, for the manifest and for people."""
    out: dict[str, int] = {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        for name, sql in _COUNTS.items():
            with contextlib.suppress(sqlite3.OperationalError):  # an older schema lacks it
                out[name] = int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()
    return out


def _kv(db_path: Path, key: str) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        conn.close()
    return str(row[0]) if row else ""


def _files_under(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(_SKIP_SUFFIXES):
            yield path


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def make_archive(
    source: BackupSource,
    dest_dir: Path,
    *,
    reason: str = "manual",
    relay_hub_id: str | None = None,
    now: float | None = None,
    progress: Callable[[str, float], None] | None = None,
    dest_file: Path | None = None,
    backup_id: str | None = None,
) -> tuple[Path, Manifest]:
    """Snapshot the database, gather the files, write one archive; (its path, its manifest)."""
    report = progress or (lambda phase, fraction: None)
    now = time.time() if now is None else now
    backup_id = backup_id or new_backup_id(now)
    dest = dest_file or dest_dir / archive_name(backup_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".staging-{backup_id}"
    staging.mkdir(mode=0o700)
    try:
        report("snapshot", 0.0)
        db_copy = staging / "data" / DB_NAME
        db_copy.parent.mkdir(parents=True)
        schema = snapshot_database(source.db_path, db_copy)
        contents = count_contents(db_copy)
        hub_id = _kv(db_copy, "hub_id")
        report("snapshot", 1.0)

        report("files", 0.0)
        staged: list[tuple[str, str, Path]] = [(f"data/{DB_NAME}", "database", db_copy)]
        for name, role in DATA_PARTS.items():
            if name in (DB_NAME, CONFIG_NAME):
                continue
            for path in _files_under(source.data_dir / name):
                rel = path.relative_to(source.data_dir).as_posix()
                copy = staging / "data" / rel
                _copy(path, copy)
                staged.append((f"data/{rel}", role, copy))
        config = source.config_file or source.data_dir / CONFIG_NAME
        if config.is_file():
            copy = staging / "data" / CONFIG_NAME
            _copy(config, copy)
            staged.append((f"data/{CONFIG_NAME}", "config", copy))
        # A configured file is kept as that file in its folder: external/<n>/<rel> always
        # restores to external_dirs[n]/<rel>.
        externals = [p.parent if p.is_file() else p for p in source.external_paths()]
        for index, path_root in enumerate(source.external_paths()):
            root = externals[index]
            for path in _files_under(path_root):
                rel = path.relative_to(root).as_posix()
                copy = staging / "external" / str(index) / rel
                _copy(path, copy)
                role = "profile" if path.suffix in (".yaml", ".yml", ".ir") else "integration"
                staged.append((f"external/{index}/{rel}", role, copy))
        contents["ir_files"] = sum(1 for _, role, _ in staged if role in ("integration", "profile"))
        entries = []
        for arc, role, path in staged:
            size, digest = sha256_file(path)
            entries.append((FileEntry(arc, role, size, digest), path))
        report("files", 1.0)

        manifest = Manifest(
            id=backup_id,
            created=now,
            software_version=source.software_version,
            hub_id=hub_id,
            hub_name=source.hub_name,
            relay_hub_id=relay_hub_id,
            database_schema=schema,
            reason=reason,
            contents=contents,
            files=tuple(e for e, _ in entries),
            external_dirs=tuple(str(p) for p in externals),
        )
        total = max(1, manifest.total_bytes)
        report("archive", 0.0)
        write_archive(dest, manifest, entries, lambda done: report("archive", done / total))
        report("archive", 1.0)
        return dest, manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)
