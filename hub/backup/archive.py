"""The archive file: a tar stream in one zstd frame with a content checksum.

    homehub-<id>.tar.zst
      manifest.json            first, so listing reads only the start of the file
      data/homehub.db          the database snapshot (SQLite's online backup)
      data/homehub.toml        the config, the identity key, learned IR codes, IR profiles ...
      external/<n>/...         files kept outside the data folder (configured store paths)

      + a zstd skippable frame: SHA-256 of every byte before it

Plain tar and zstd, so `tar --zstd -tf` opens it too (decoders skip the last frame). Everything
here is blocking file work: callers run it in a worker thread. A restore checks every byte
four ways (the SHA-256 of the exact file, zstd's checksum of the content, tar's structure, the
manifest's size and SHA-256 of each file) and raises ArchiveRejected with the reason; nothing
half-written ever gets a final name.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from hub.backup.manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_BYTES,
    ArchiveRejected,
    FileEntry,
    Manifest,
)

if TYPE_CHECKING:
    import tarfile

# tarfile and zstandard are imported inside the functions (all run in worker threads): a hub
# loads them when it first makes or reads a backup, not at start.

SUFFIX = ".tar.zst"
ZSTD_LEVEL = 1  # within a few percent of level 3's size here, at twice its speed
_CHUNK = 1024 * 1024
# |--magic 0x184D2A5E--|--size 36--|--"HHS1"--|------SHA-256 of the bytes before------|
# |     4 bytes LE     |  4 bytes  | 4 bytes  |               32 bytes                 |
_TRAILER = struct.Struct("<II4s32s")
_SKIPPABLE_MAGIC = 0x184D2A5E
_TRAILER_TAG = b"HHS1"

Progress = Callable[[int], None]  # bytes done so far


def sha256_file(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_archive(
    dest: Path,
    manifest: Manifest,
    sources: Iterable[tuple[FileEntry, Path]],
    progress: Progress | None = None,
) -> int:
    """Write the archive to `dest` (via `dest.partial`, fsynced, then renamed); its size."""
    import tarfile

    import zstandard

    partial = dest.with_name(dest.name + ".partial")
    done = 0
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True, threads=-1)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            raw = _Hashing(file)
            with compressor.stream_writer(raw, closefd=False) as zw:  # type: ignore[arg-type]
                # The tar stream written directly (tarfile's own stream copies every block
                # through a growing buffer: several times slower on a 500 MB database).
                body = manifest.to_bytes()
                zw.write(_header(MANIFEST_NAME, len(body), manifest.created))
                zw.write(body + _padding(len(body)))
                for entry, path in sources:
                    zw.write(_header(entry.path, entry.size, manifest.created))
                    copied = 0
                    with open(path, "rb") as f:
                        while chunk := f.read(_CHUNK):
                            zw.write(chunk)
                            copied += len(chunk)
                            if progress is not None:
                                progress(done + copied)
                    if copied != entry.size:
                        raise OSError(f"{path} changed size while it was archived")
                    zw.write(_padding(entry.size))
                    done += entry.size
                zw.write(bytes(2 * tarfile.BLOCKSIZE))  # tar's end: two empty blocks
            file.write(_TRAILER.pack(_SKIPPABLE_MAGIC, 36, _TRAILER_TAG, raw.digest.digest()))
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest.stat().st_size


def _header(name: str, size: int, mtime: float) -> bytes:
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    import tarfile

    return bytes(-size % tarfile.BLOCKSIZE)


class _Hashing(io.RawIOBase):
    """A writer that hashes what goes through it."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        return self._f.write(data)


def verify_file(path: Path) -> None:
    """Check the SHA-256 of the exact bytes against the trailer; ArchiveRejected if off."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size < _TRAILER.size:
            raise ArchiveRejected("truncated", "the archive is cut short; it is damaged")
        f.seek(size - _TRAILER.size)
        magic, length, tag, expected = _TRAILER.unpack(f.read(_TRAILER.size))
        if magic != _SKIPPABLE_MAGIC or length != 36 or tag != _TRAILER_TAG:
            raise ArchiveRejected(
                "truncated", "the archive's end is missing (cut short or altered); it is damaged"
            )
        f.seek(0)
        digest = hashlib.sha256()
        left = size - _TRAILER.size
        while left and (chunk := f.read(min(_CHUNK, left))):
            digest.update(chunk)
            left -= len(chunk)
    if digest.digest() != expected:
        raise ArchiveRejected(
            "damaged", "the archive's bytes do not match its checksum; it is damaged"
        )


class _ZstdReader(io.RawIOBase):
    """Decompresses a zstd frame and refuses to end quietly: a cut file is an error."""

    def __init__(self, f: BinaryIO) -> None:
        import zstandard

        self._f = f
        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._buf = b""
        self.compressed_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview | bytearray) -> int:  # type: ignore[override]
        import zstandard

        while not self._buf:
            if self._d.eof:
                return 0
            chunk = self._f.read(_CHUNK)
            self.compressed_read += len(chunk)
            if not chunk:
                raise ArchiveRejected(
                    "truncated", "the archive ends early (the file is cut short); it is damaged"
                )
            try:
                self._buf = self._d.decompress(chunk)
            except zstandard.ZstdError as err:
                raise ArchiveRejected(
                    "damaged", f"the archive's compressed data is corrupt ({err}); it is damaged"
                ) from None
        n = min(len(target), len(self._buf))
        target[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self) -> None:
        """Read to the end of the frame (its checksum is checked there)."""
        while self.read(_CHUNK):
            pass


def _open_tar(f: BinaryIO) -> tuple[_ZstdReader, tarfile.TarFile]:
    import tarfile

    head = f.read(4)
    f.seek(0)
    if head != b"\x28\xb5\x2f\xfd":
        if head == b"age-":
            raise ArchiveRejected(
                "encrypted", "this backup is encrypted; give the recovery key to open it"
            )
        raise ArchiveRejected("not_a_backup", "this file is not a homehub backup archive")
    reader = _ZstdReader(f)
    try:
        return reader, tarfile.open(fileobj=reader, mode="r|", bufsize=_CHUNK)
    except tarfile.TarError as err:
        raise ArchiveRejected("damaged", f"the archive is not a readable tar ({err})") from None


def _read_manifest(tar: tarfile.TarFile, newest_schema: int) -> Manifest:
    import tarfile

    try:
        first = tar.next()
    except tarfile.TarError as err:
        raise ArchiveRejected(
            "damaged", f"the archive's first entry is unreadable ({err})"
        ) from None
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise ArchiveRejected("damaged", "the archive does not start with its manifest")
    if first.size > MAX_MANIFEST_BYTES:
        raise ArchiveRejected("damaged", "the archive's manifest is implausibly large")
    member = tar.extractfile(first)
    assert member is not None
    return Manifest.from_bytes(member.read(), newest_schema=newest_schema)


def read_manifest(path: Path, newest_schema: int) -> Manifest:
    """Only the manifest (cheap: the start of the file)."""
    with open(path, "rb") as f:
        _, tar = _open_tar(f)
        return _read_manifest(tar, newest_schema)


def _safe_target(name: str, dest: Path) -> Path:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\\" in name:
        raise ArchiveRejected("damaged", f"the archive holds an unsafe path {name!r}")
    return dest.joinpath(*parts)


def extract_archive(
    path: Path, dest: Path, newest_schema: int, progress: Progress | None = None
) -> Manifest:
    """Check everything and extract into the empty folder `dest`; ArchiveRejected on any fault.

    On failure `dest` may hold partial files: the caller deletes the whole folder.
    """
    import tarfile

    with open(path, "rb") as f:
        reader, tar = _open_tar(f)
        manifest = _read_manifest(tar, newest_schema)
        verify_file(path)  # after the magic and the manifest: their reasons are clearer
        expected = {e.path: e for e in manifest.files}
        seen: set[str] = set()
        done = 0
        try:
            for member in tar:
                if member.name == MANIFEST_NAME and not seen and member.offset == 0:
                    continue  # iterating a TarFile starts again with what next() returned
                entry = expected.get(member.name)
                if entry is None or member.name in seen:
                    raise ArchiveRejected(
                        "damaged", f"the archive holds {member.name!r}, which its manifest lacks"
                    )
                if not member.isfile() or member.size != entry.size:
                    raise ArchiveRejected(
                        "damaged",
                        f"{member.name} is {member.size} bytes in the archive, "
                        f"{entry.size} in its manifest",
                    )
                target = _safe_target(member.name, dest)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                digest = hashlib.sha256()
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done)
                    out.flush()
                    os.fsync(out.fileno())  # the swap must never put in place what is not on disk
                if digest.hexdigest() != entry.sha256:
                    raise ArchiveRejected(
                        "checksum", f"{member.name} does not match its checksum; damaged"
                    )
                seen.add(member.name)
            reader.drain()
        except tarfile.TarError as err:
            raise ArchiveRejected(
                "damaged", f"the archive's tar structure is broken ({err})"
            ) from None
        missing = sorted(set(expected) - seen)
        if missing:
            raise ArchiveRejected(
                "truncated", f"the archive lacks {', '.join(missing[:3])} listed in its manifest"
            )
    return manifest
