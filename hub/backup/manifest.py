"""What a backup archive holds, as a value: the manifest (the archive's first member).

The manifest says what is inside, when it was made, by which software and database schema, and
the size and SHA-256 of every file, so a restore can refuse a damaged or too-new archive before
it touches anything, and say exactly why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import Invalid

FORMAT = "homehub-backup"
#: Bump when the archive layout changes; readers migrate older layouts in `migrate_manifest`.
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class ArchiveRejected(Invalid):
    """An archive that cannot be restored: damaged, wrong key, too new. `reason` is a code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the archive: where it goes, what it is, and how to check it."""

    path: str  # archive path: data/<relative path> or external/<n>/<relative path>
    role: str  # database | config | identity | integration | profile
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "role": self.role, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Manifest:
    """The archive's table of contents."""

    id: str
    created: float
    software_version: str
    hub_id: str
    hub_name: str
    database_schema: int
    reason: str = "manual"
    relay_hub_id: str | None = None
    contents: Mapping[str, int] = field(default_factory=dict)
    files: tuple[FileEntry, ...] = ()
    external_dirs: tuple[str, ...] = ()  # absolute folders of IR profiles outside the data dir
    format_version: int = FORMAT_VERSION

    @property
    def total_bytes(self) -> int:
        """Sum of the files' sizes (before compression)."""
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what is written into the archive)."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "id": self.id,
            "created": self.created,
            "software_version": self.software_version,
            "hub": {
                "hub_id": self.hub_id,
                "name": self.hub_name,
                "relay_hub_id": self.relay_hub_id,
            },
            "schemas": {"database": self.database_schema},
            "reason": self.reason,
            "contents": dict(self.contents),
            "files": [f.to_dict() for f in self.files],
            "external_dirs": list(self.external_dirs),
        }

    def to_bytes(self) -> bytes:
        """The manifest member's bytes."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, *, newest_schema: int) -> Manifest:
        """Parse and check a manifest; ArchiveRejected says what is wrong with it."""
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ArchiveRejected(
                "damaged", f"the archive's manifest is not readable JSON ({err}); it is damaged"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ArchiveRejected("not_a_backup", "this file is not a homehub backup")
        version = doc.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ArchiveRejected("damaged", "the manifest has no valid format_version")
        if version > FORMAT_VERSION:
            raise ArchiveRejected(
                "too_new",
                f"this backup was made by a newer homehub ({doc.get('software_version', '?')}, "
                f"archive format {version}; this homehub reads up to {FORMAT_VERSION}); "
                "upgrade homehub on this machine, then restore",
            )
        doc = migrate_manifest(doc, version)
        try:
            schema = int(doc["schemas"]["database"])
            if schema > newest_schema:
                raise ArchiveRejected(
                    "too_new",
                    f"this backup's database has schema {schema}, newer than this homehub "
                    f"understands ({newest_schema}); upgrade homehub "
                    f"(the backup was made by {doc.get('software_version', '?')}), then restore",
                )
            hub = doc["hub"]
            files = tuple(
                FileEntry(str(f["path"]), str(f["role"]), int(f["size"]), str(f["sha256"]))
                for f in doc["files"]
            )
            return cls(
                id=str(doc["id"]),
                created=float(doc["created"]),
                software_version=str(doc["software_version"]),
                hub_id=str(hub["hub_id"]),
                hub_name=str(hub.get("name", "")),
                relay_hub_id=hub.get("relay_hub_id"),
                database_schema=schema,
                reason=str(doc.get("reason", "manual")),
                contents={str(k): int(v) for k, v in dict(doc.get("contents", {})).items()},
                files=files,
                external_dirs=tuple(str(d) for d in doc.get("external_dirs", ())),
                format_version=FORMAT_VERSION,
            )
        except ArchiveRejected:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ArchiveRejected(
                "damaged", f"the archive's manifest lacks or garbles a field ({err}); damaged"
            ) from None

    def summary(self) -> dict[str, Any]:
        """What lists show: id, when, why, how big, what is inside."""
        return {
            "id": self.id,
            "created": self.created,
            "reason": self.reason,
            "software_version": self.software_version,
            "database_schema": self.database_schema,
            "hub_id": self.hub_id,
            "hub_name": self.hub_name,
            "contents": dict(self.contents),
            "bytes_uncompressed": self.total_bytes,
        }


def migrate_manifest(doc: Mapping[str, Any], version: int) -> dict[str, Any]:
    """Bring an older manifest layout up to FORMAT_VERSION (one step per version)."""
    out = dict(doc)
    # Format 1 is the first; a format 2 adds its step here: `if version < 2: ...`.
    out["format_version"] = FORMAT_VERSION
    return out
