"""Backups: consistent archives of a hub's state, encrypted off-site copies, checked restores."""

from hub.backup.manifest import ArchiveRejected, Manifest
from hub.backup.recovery_key import BadRecoveryKey, PublicRecoveryKey, RecoveryKey
from hub.backup.restore import apply_pending_restore, stage_restore
from hub.backup.service import BackupService, backup_component
from hub.backup.snapshot import BackupSource, make_archive

__all__ = [
    "ArchiveRejected",
    "BackupService",
    "BackupSource",
    "BadRecoveryKey",
    "Manifest",
    "PublicRecoveryKey",
    "RecoveryKey",
    "apply_pending_restore",
    "backup_component",
    "make_archive",
    "stage_restore",
]
