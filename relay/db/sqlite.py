"""SQLite through aiosqlite, in WAL mode: one connection, one writer at a time."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiosqlite

from relay.db import Database, Executor, Row, StoreUnavailable


class _Tx(Executor):
    """Statements on the shared connection while the write lock is held (no commit)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """The first row, or None."""
        async with self.conn.execute(sql, args) as cur:
            row = await cur.fetchone()
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Every row."""
        async with self.conn.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; rows changed."""
        async with self.conn.execute(sql, args) as cur:
            if cur.description is not None:
                await cur.fetchall()  # a RETURNING statement finishes only when read
            return int(cur.rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement per row."""
        await self.conn.executemany(sql, rows)


class SqliteDatabase(Database):
    """The single-node default: a file in the relay's data directory."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        # aiosqlite shares one connection: a transaction must not interleave with other writes.
        self._lock = asyncio.Lock()

    @property
    def conn(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._conn is None:
            raise RuntimeError("the relay database is not open; call open() first")
        return self._conn

    async def open(self) -> None:
        """Open (creating) the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=NORMAL")

    async def close(self) -> None:
        """Close the file."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def ping(self) -> None:
        """A file is there as long as it is open."""
        if self._conn is None:
            raise StoreUnavailable("the relay database is closed")

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """The first row, or None."""
        return await _Tx(self.conn).fetchone(sql, args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Every row."""
        return await _Tx(self.conn).fetchall(sql, args)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run and commit one statement."""
        async with self.transaction() as tx:
            return await tx.execute(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run and commit one statement per row."""
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        async with self._lock:
            conn = self.conn
            try:
                yield _Tx(conn)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                raise
            await conn.commit()

    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        """Commit together or roll back."""
        return self._transaction()

    def migration_lock(self) -> AbstractAsyncContextManager[Executor]:
        """One process owns the file: a transaction is lock enough."""
        return self._transaction()
