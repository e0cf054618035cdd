"""Encrypting an archive to the recovery key, and opening it again: the age format via pyrage.

age (X25519 to wrap a random file key, ChaCha20-Poly1305 over 64 KiB chunks, a final-chunk
flag) detects any changed, cut or reordered byte, and the standard `age` tool opens the same
files: `age -d -i key.txt homehub-....tar.zst.age > backup.tar.zst`. Blocking file work.
"""

from __future__ import annotations

from pathlib import Path

from hub.backup.manifest import ArchiveRejected
from hub.backup.recovery_key import PublicRecoveryKey, RecoveryKey

MAGIC = b"age-encryption.org/v1\n"
SEALED_SUFFIX = ".age"


def is_sealed(path: Path) -> bool:
    """Is the file an age-encrypted one?"""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def seal(src: Path, dest: Path, key: PublicRecoveryKey) -> None:
    """Encrypt `src` to the recovery key into `dest` (via `dest.partial`)."""
    import pyrage  # only hubs with off-site backups set up encrypt; the rest never load it

    partial = dest.with_name(dest.name + ".partial")
    try:
        recipient = pyrage.x25519.Recipient.from_str(key.recipient)
        pyrage.encrypt_file(str(src), str(partial), [recipient])
        partial.replace(dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def unseal(src: Path, dest: Path, key: RecoveryKey) -> None:
    """Decrypt `src` into `dest`; ArchiveRejected (wrong key, damaged) leaves no `dest`."""
    import pyrage

    try:
        identity = pyrage.x25519.Identity.from_str(key.identity)
        pyrage.decrypt_file(str(src), str(dest), [identity])
    except pyrage.DecryptError as err:
        dest.unlink(missing_ok=True)
        if "no matching keys" in str(err).lower():
            raise ArchiveRejected(
                "wrong_key",
                "this backup was encrypted to a different recovery key; use the key that was "
                "shown when backups were set up on the hub that made it",
            ) from None
        raise ArchiveRejected("damaged", f"the encrypted backup is damaged ({err})") from None
    except OSError as err:
        dest.unlink(missing_ok=True)
        raise ArchiveRejected(
            "damaged",
            f"the encrypted backup is damaged or cut short: a part fails its authentication "
            f"check ({err})",
        ) from None
