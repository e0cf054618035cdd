"""The backups folder and the recovery key record: what the service, the API and the CLI share.

Archives are files (`homehub-<id>.tar.zst`, or `.tar.zst.age` when encrypted) in the backups
folder, outside the parts a restore replaces, so they survive a restore. The hub keeps only the
public half of the recovery key, in its database (key-value `backup_recovery_key`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.backup.archive import SUFFIX, read_manifest
from hub.backup.manifest import ArchiveRejected, Manifest
from hub.backup.recovery_key import PublicRecoveryKey, RecoveryKey
from hub.backup.restore import newest_schema
from hub.backup.sealed import SEALED_SUFFIX
from hub.errors import Conflict, NotFound
from hub.store import Database

_LOG = logging.getLogger(__name__)

KEY_KV = "backup_recovery_key"
_PREFIX = "homehub-"


@dataclass(frozen=True, slots=True)
class LocalBackup:
    """One archive in the backups folder."""

    id: str
    path: Path
    size: int
    encrypted: bool
    manifest: Manifest | None  # None for encrypted files (only the key opens them)
    problem: str = ""  # why the manifest could not be read, if it could not

    @property
    def created(self) -> float:
        """When it was made (from the manifest, else the file's time)."""
        return self.manifest.created if self.manifest else self.path.stat().st_mtime

    @property
    def reason(self) -> str:
        """manual | scheduled | ..."""
        return self.manifest.reason if self.manifest else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form for lists."""
        out: dict[str, Any] = {
            "id": self.id,
            "file": self.path.name,
            "size_bytes": self.size,
            "encrypted": self.encrypted,
            "created": self.created,
        }
        if self.manifest is not None:
            out.update(self.manifest.summary())
        if self.problem:
            out["problem"] = self.problem
        return out


def backup_id_of(path: Path) -> str | None:
    """The id in an archive's file name, or None if it is not one of ours."""
    name = path.name
    if not name.startswith(_PREFIX):
        return None
    for suffix in (SUFFIX + SEALED_SUFFIX, SUFFIX):
        if name.endswith(suffix):
            return name[len(_PREFIX) : -len(suffix)]
    return None


def list_local(folder: Path) -> list[LocalBackup]:
    """Archives in the folder, newest first (blocking: reads each manifest)."""
    out: list[LocalBackup] = []
    if not folder.is_dir():
        return out
    for path in folder.iterdir():
        backup_id = backup_id_of(path)
        if backup_id is None or not path.is_file():
            continue
        encrypted = path.name.endswith(SEALED_SUFFIX)
        manifest: Manifest | None = None
        problem = ""
        if not encrypted:
            try:
                manifest = read_manifest(path, newest_schema())
            except ArchiveRejected as err:
                problem = err.message
            except OSError as err:
                problem = str(err)
        out.append(LocalBackup(backup_id, path, path.stat().st_size, encrypted, manifest, problem))
    out.sort(key=lambda b: b.id, reverse=True)
    return out


def find_local(folder: Path, backup_id: str) -> LocalBackup:
    """One archive by id; NotFound saying where it looked."""
    for backup in list_local(folder):
        if backup.id == backup_id:
            return backup
    raise NotFound(f"no backup {backup_id!r} in {folder}; GET /api/v1/backups lists them")


def prune(folder: Path, keep: int, reason: str = "scheduled") -> list[str]:
    """Delete all but the newest `keep` archives made for `reason`; the ids deleted."""
    mine = [b for b in list_local(folder) if b.reason == reason]
    deleted = []
    for old in mine[keep:]:
        old.path.unlink(missing_ok=True)
        deleted.append(old.id)
    return deleted


async def load_public_key(db: Database) -> PublicRecoveryKey | None:
    """The recovery key's public half, if one was set up."""
    raw = await db.get_kv(KEY_KV)
    if not raw:
        return None
    doc = json.loads(raw)
    return PublicRecoveryKey(doc["recipient"], doc["vault_id"])


async def recovery_key_info(db: Database) -> dict[str, Any]:
    """What the API and CLI say about the recovery key (never the key itself)."""
    raw = await db.get_kv(KEY_KV)
    if not raw:
        return {"configured": False}
    doc = json.loads(raw)
    key = PublicRecoveryKey(doc["recipient"], doc["vault_id"])
    return {
        "configured": True,
        "recipient": key.recipient,
        "fingerprint": key.fingerprint,
        "created": doc.get("created"),
    }


def _new_key() -> tuple[RecoveryKey, PublicRecoveryKey]:
    key = RecoveryKey.generate()
    return key, key.public()


async def set_up_recovery_key(db: Database, replace: bool = False) -> RecoveryKey:
    """Make a new recovery key and keep its public half; the secret goes to the caller, once."""
    if await db.get_kv(KEY_KV) and not replace:
        raise Conflict(
            "a recovery key is already set up; replacing it means backups made from now on "
            "need the new key (older ones still need the old one): ask again with replace"
        )
    # Off the loop: the first key a hub makes loads cryptography and the word list.
    key, public = await asyncio.to_thread(_new_key)
    await db.set_kv(
        KEY_KV,
        json.dumps(
            {"recipient": public.recipient, "vault_id": public.vault_id, "created": time.time()}
        ),
    )
    _LOG.info("backup recovery key set up (fingerprint %s)", public.fingerprint)
    return key


def key_shown_once(key: RecoveryKey) -> dict[str, Any]:
    """The one time the secret is shown: words, the QR-able string, and what to do with them."""
    return {
        "words": key.words,
        "key": key.identity,
        "recipient": key.recipient,
        "fingerprint": key.public().fingerprint,
        "note": "Write the 24 words down (or scan the key as a QR code) and keep them away from "
        "the hub: they are the only way to open the off-site backups. homehub never shows "
        "them again.",
    }
