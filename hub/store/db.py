"""The hub's SQLite database: one aiosqlite connection, WAL, versioned migrations.

Acknowledged means committed: callers `await db.commit()` (or use `transaction()`) before they
answer a client. WAL with synchronous=FULL keeps every commit through a process kill or power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from hub.errors import ConfigError
from hub.store.migrations import MIGRATIONS

_LOG = logging.getLogger(__name__)

PAGE_CACHE_KIB = 1024


def prepare_folder(folder: Path) -> None:
    """Make the data folder if needed and prove it writable; ConfigError says what to do."""
    where = "choose another one with --data-dir (or HOMEHUB_DATA_DIR)"
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"the data folder {folder} is a file, not a folder; move the file away or {where}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"cannot create the data folder {folder}: {err.strerror or err}; {where}"
        ) from err
    # os.access() says yes to root on a read-only mount; writing a file is the real test.
    try:
        fd, probe = tempfile.mkstemp(prefix=".homehub-write-test-", dir=folder)
    except OSError as err:
        raise ConfigError(
            f"the data folder {folder} is not writable ({err.strerror or err}); give this user "
            f"write access to it (chown/chmod) or {where}"
        ) from err
    os.close(fd)
    os.unlink(probe)


class Database:
    """Thin async wrapper that owns the connection and the schema version."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        # One connection is shared by every coroutine: writes take turns so one task's
        # statement never lands inside another task's open transaction.
        self._write_lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open connection (after `open()`)."""
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def open(self, migrations: Sequence[tuple[int, str, str]] = MIGRATIONS) -> None:
        """Open (creating the file and folder) and migrate to the newest schema."""
        await asyncio.to_thread(prepare_folder, self.path.parent)
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            await self._conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as err:
            await self.close()
            raise ConfigError(
                f"cannot open the database {self.path}: {err}; check that the file is a homehub "
                "database and that this user may write it, or choose another --data-dir"
            ) from err
        await self._conn.execute("PRAGMA synchronous=FULL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._conn.execute("PRAGMA busy_timeout=5000")
        # SQLite's own page cache (2 MiB by default) keeps whatever was read last: at start,
        # every stored rule, read once. What a running hub reads again (shadows, recent history)
        # fits in 1 MiB; the OS page cache holds the rest of the file (a small board's memory).
        await self._conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        await self.migrate(migrations)

    async def migrate(self, migrations: Sequence[tuple[int, str, str]]) -> None:
        """Apply, each in its own transaction, the migrations newer than the file's version."""
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        newest = max((m[0] for m in migrations), default=0)
        if current > newest:
            raise ConfigError(
                f"{self.path} has schema version {current}, newer than this homehub "
                f"({newest}); upgrade homehub or use another data directory"
            )
        for version, name, sql in sorted(migrations):
            if version <= current:
                continue
            _LOG.info("migrating %s to schema %d (%s)", self.path.name, version, name)
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    await self.conn.execute(statement)
                await self.conn.execute(f"PRAGMA user_version={int(version)}")
                await self.conn.execute("COMMIT")
            except Exception:
                await self.conn.execute("ROLLBACK")
                raise

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error). Committed on exit = durable."""
        async with self._write_lock:
            try:
                await self._run_to_end("BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                # The BEGIN ran all the same: undo it, or the next writer finds the connection
                # inside our transaction ("cannot start a transaction within a transaction").
                # Unless its own task was cancelled before the database thread got it (the
                # loop shutting down cancels every task at once): then there is nothing to
                # undo, and the writer must still end cancelled. A trace writer that got the
                # ROLLBACK's error instead took it for a failed write and went on, and the
                # process never exited.
                try:
                    await self._run_to_end("ROLLBACK")
                except sqlite3.OperationalError as err:
                    if "no transaction is active" not in str(err):
                        _LOG.error("undoing a cancelled BEGIN failed: %s", err)
                raise
            try:
                yield self.conn
            except BaseException:
                await self._run_to_end("ROLLBACK")
                raise
            await self._run_to_end("COMMIT")

    async def _run_to_end(self, sql: str) -> None:
        """Run a statement and wait for it even through a cancel, then pass the cancel on.

        aiosqlite runs statements on its own thread: a cancelled await does not stop one, so
        BEGIN/COMMIT/ROLLBACK must be seen through to know what state the connection is in.
        """
        statement = asyncio.ensure_future(self.conn.execute(sql))
        cancelled = False
        while not statement.done():
            try:
                await asyncio.shield(statement)
            except asyncio.CancelledError:
                cancelled = True
        await statement  # the statement's own error, if it failed
        if cancelled:
            raise asyncio.CancelledError

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> None:
        """One autocommitted statement."""
        async with self._write_lock:
            await self.conn.execute(sql, tuple(params))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        """Many rows in one transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, [tuple(r) for r in rows])

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a query."""
        async with self.conn.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of a query, or None."""
        async with self.conn.execute(sql, tuple(params)) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else None

    async def get_kv(self, key: str) -> str | None:
        """A value from the key-value table."""
        row = await self.fetchone("SELECT value FROM kv WHERE key=?", (key,))
        return str(row[0]) if row else None

    async def set_kv(self, key: str, value: str) -> None:
        """Store a key-value pair."""
        await self.execute(
            "INSERT INTO kv(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def _statements(sql: str) -> list[str]:
    """Split a script into statements (sqlite3 knows where one ends, comments included)."""
    out: list[str] = []
    buf = ""
    for part in sql.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out
