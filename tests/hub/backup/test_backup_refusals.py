"""Damaged, truncated, wrongly keyed and too-new archives are refused with a reason and change
nothing; an archive from an older database schema is migrated on restore."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sqlite3
import struct
import tarfile
from pathlib import Path

import pytest
import zstandard
from backup_env import tree_digest

from hub.backup import ArchiveRejected, RecoveryKey, apply_pending_restore, stage_restore
from hub.backup.archive import read_manifest
from hub.backup.restore import newest_schema
from hub.backup.sealed import seal
from hub.backup.snapshot import BackupSource, make_archive
from hub.store import Database
from hub.store.migrations import MIGRATIONS


async def _fill(data: Path, migrations: list[tuple[int, str, str]] = MIGRATIONS) -> None:
    db = Database(data / "homehub.db")
    await db.open(migrations)
    await db.set_kv("hub_id", "hub_0123456789abcdef")
    await db.execute(
        "INSERT INTO devices(id, integration, name, room, description, online, created) "
        "VALUES('lamp', 'virtual', 'Nursery Lamp', 'Nursery', '{}', 1, 1.0)"
    )
    await db.execute(
        "INSERT INTO tokens(id, name, hash, created) VALUES('tok_1', 'phone', 'ab12', 1.0)"
    )
    await db.close()
    (data / "relay_identity.key").write_bytes(bytes(range(32)))
    (data / "homehub.toml").write_text('[hub]\nname = "Test flat"\n')
    learned = data / "integrations" / "broadlink" / "learned.json"
    learned.parent.mkdir(parents=True)
    learned.write_text('{"tv": {"mute": "26000c00"}}')


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(an archive of a furnished data folder, that data folder)."""
    src = tmp_path_factory.mktemp("src")
    asyncio.run(_fill(src))
    archive, _ = make_archive(BackupSource(src, software_version="0.1.0"), src / "backups")
    return archive, src


def _target(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A data folder with a hub of its own, and its digest before the restore attempt."""
    target = tmp_path / "target"
    target.mkdir(parents=True)
    asyncio.run(_fill(target))
    (target / "homehub.toml").write_text('[hub]\nname = "Other home"\n')
    return target, tree_digest(target)


def _refused(
    archive: Path, target: Path, before: dict[str, str], reason: str, key: RecoveryKey | None = None
) -> ArchiveRejected:
    with pytest.raises(ArchiveRejected) as info:
        stage_restore(archive, target, key=key)
    assert info.value.reason == reason, info.value.message
    assert apply_pending_restore(target) is None, "nothing may be staged"
    assert tree_digest(target) == before, "a refused restore changed the data folder"
    assert not list(target.glob(".restore-*"))
    return info.value


def test_a_good_archive_restores_everything(made: tuple[Path, Path], tmp_path: Path) -> None:
    archive, src = made
    target, _ = _target(tmp_path)
    manifest = stage_restore(archive, target)
    assert manifest.contents["devices"] == 1 and manifest.contents["tokens"] == 1
    summary = apply_pending_restore(target)
    assert summary is not None and summary["restored"]["id"] == manifest.id
    for name in ("relay_identity.key", "homehub.toml", "integrations/broadlink/learned.json"):
        assert (target / name).read_bytes() == (src / name).read_bytes(), name
    conn = sqlite3.connect(target / "homehub.db")
    assert conn.execute("SELECT name FROM devices").fetchall() == [("Nursery Lamp",)]
    conn.close()
    # The restored folder's previous state is kept aside, whole.
    before = next(target.glob(".before-restore-*"))
    assert "Other home" in (before / "homehub.toml").read_text()


def test_one_flipped_byte_anywhere_is_refused(made: tuple[Path, Path], tmp_path: Path) -> None:
    """Every byte of the archive's head and tail, and every 11th between, flipped in turn."""
    archive, _ = made
    target, before = _target(tmp_path)
    raw = archive.read_bytes()
    bad = tmp_path / "flipped.tar.zst"
    reasons = set()
    positions = sorted({*range(200), *range(200, len(raw), 11), *range(len(raw) - 200, len(raw))})
    for pos in positions:
        flipped = bytearray(raw)
        flipped[pos] ^= 0x01 << (pos % 8)
        bad.write_bytes(flipped)
        with pytest.raises(ArchiveRejected) as info:
            stage_restore(bad, target)
        reasons.add(info.value.reason)
    assert reasons <= {"damaged", "checksum", "truncated", "not_a_backup"}, reasons
    assert tree_digest(target) == before
    assert apply_pending_restore(target) is None


def _refused_any(archive: Path, target: Path, before: dict[str, str]) -> ArchiveRejected:
    with pytest.raises(ArchiveRejected) as info:
        stage_restore(archive, target)
    assert info.value.message
    assert tree_digest(target) == before
    assert apply_pending_restore(target) is None
    return info.value


@pytest.mark.parametrize("keep", [0.5, 0.9, -8])
def test_a_truncated_archive_is_refused(
    made: tuple[Path, Path], tmp_path: Path, keep: float
) -> None:
    archive, _ = made
    target, before = _target(tmp_path)
    raw = archive.read_bytes()
    cut = tmp_path / "cut.tar.zst"
    cut.write_bytes(raw[: int(len(raw) * keep)] if keep > 0 else raw[: int(keep)])
    err = _refused_any(cut, target, before)
    assert err.reason in ("truncated", "damaged")
    assert "damaged" in err.message or "cut short" in err.message or "ends early" in err.message


def test_encrypted_archive_needs_the_right_key(made: tuple[Path, Path], tmp_path: Path) -> None:
    archive, _ = made
    key, other = RecoveryKey.generate(), RecoveryKey.generate()
    sealed = tmp_path / "x.tar.zst.age"
    seal(archive, sealed, key.public())
    target, before = _target(tmp_path)
    err = _refused(sealed, target, before, "encrypted")
    assert "recovery key" in err.message
    err = _refused(sealed, target, before, "wrong_key", key=other)
    assert "different recovery key" in err.message
    raw = bytearray(sealed.read_bytes())
    raw[len(raw) // 2] ^= 0x80
    flipped = tmp_path / "flipped.age"
    flipped.write_bytes(raw)
    _refused(flipped, target, before, "damaged", key=key)
    cut = tmp_path / "cut.age"
    cut.write_bytes(sealed.read_bytes()[:-100])
    _refused(cut, target, before, "damaged", key=key)
    assert stage_restore(sealed, target, key=key).contents["devices"] == 1


def _rewrite(archive: Path, dest: Path, edit_manifest) -> None:  # type: ignore[no-untyped-def]
    """Re-pack an archive with its manifest edited (what a future homehub might write)."""
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(archive.read_bytes())
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(raw), mode="r") as src,
        tarfile.open(fileobj=out, mode="w") as tar,
    ):
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                doc = json.loads(data)
                edit_manifest(doc)
                data = json.dumps(doc).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    body = zstandard.ZstdCompressor(write_checksum=True).compress(out.getvalue())
    # The trailer as the format describes it: a zstd skippable frame with the body's SHA-256.
    trailer = struct.pack("<II4s32s", 0x184D2A5E, 36, b"HHS1", hashlib.sha256(body).digest())
    dest.write_bytes(body + trailer)


def test_archives_newer_than_this_homehub_are_refused(
    made: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, _ = made
    target, before = _target(tmp_path)
    newer_format = tmp_path / "f.tar.zst"
    _rewrite(archive, newer_format, lambda d: d.update(format_version=99, software_version="9.0.0"))
    err = _refused(newer_format, target, before, "too_new")
    assert "9.0.0" in err.message and "upgrade homehub" in err.message
    newer_schema = tmp_path / "s.tar.zst"
    _rewrite(archive, newer_schema, lambda d: d["schemas"].update(database=newest_schema() + 1))
    err = _refused(newer_schema, target, before, "too_new")
    assert f"schema {newest_schema() + 1}" in err.message


def test_unsafe_paths_and_strays_are_refused(made: tuple[Path, Path], tmp_path: Path) -> None:
    archive, _ = made
    target, before = _target(tmp_path)
    evil = tmp_path / "evil.tar.zst"

    def escape(doc: dict) -> None:  # type: ignore[type-arg]
        doc["files"][0]["path"] = "../../escaped"

    _rewrite(archive, evil, escape)
    _refused(evil, target, before, "damaged")
    assert not (tmp_path / "escaped").exists()
    not_ours = tmp_path / "photo.tar.zst"
    not_ours.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    _refused(not_ours, target, before, "not_a_backup")


def test_an_archive_from_an_older_schema_is_migrated(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    asyncio.run(_fill(old, MIGRATIONS[:1]))  # a hub from before the rules tables existed
    archive, manifest = make_archive(BackupSource(old, software_version="0.0.9"), old / "b")
    assert manifest.database_schema == 1
    assert read_manifest(archive, newest_schema()).database_schema == 1
    target = tmp_path / "new"
    stage_restore(archive, target)
    apply_pending_restore(target)
    conn = sqlite3.connect(target / "homehub.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == newest_schema()
        assert conn.execute("SELECT name FROM devices").fetchall() == [("Nursery Lamp",)]
        assert conn.execute("SELECT COUNT(*) FROM rules").fetchone()[0] == 0  # table now exists
    finally:
        conn.close()
