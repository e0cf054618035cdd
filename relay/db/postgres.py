"""PostgreSQL through asyncpg: a connection pool shared by the node's parts."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from relay.db import Database, Executor, Row, StoreUnavailable

# Any two nodes migrating the same database at once take turns on this advisory lock.
_MIGRATION_LOCK = 0x686F6D6568756272  # "homehubr"
_CONNECT_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


@functools.lru_cache(maxsize=512)
def dollar_params(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (our SQL has no `?` in literals)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    """asyncpg returns the command tag ("UPDATE 3"); the last word counts rows."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _Tx(Executor):
    """Statements on one connection of the pool."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """The first row, or None."""
        row = await self.conn.fetchrow(dollar_params(sql), *args)
        return None if row is None else tuple(row)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Every row."""
        return [tuple(r) for r in await self.conn.fetch(dollar_params(sql), *args)]

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; rows changed."""
        if "RETURNING" in sql.upper():
            return len(await self.conn.fetch(dollar_params(sql), *args))
        return _rowcount(await self.conn.execute(dollar_params(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement per row (asyncpg pipelines them)."""
        if rows:
            await self.conn.executemany(dollar_params(sql), rows)


class PostgresDatabase(Database):
    """The shared store of a relay cluster."""

    kind = "postgresql"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None

    @property
    def pool(self) -> Any:
        """The open pool."""
        if self._pool is None:
            raise RuntimeError("the relay database is not open; call open() first")
        return self._pool

    async def open(self) -> None:
        """Connect the pool; StoreUnavailable with the reason if the server is not there."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size, command_timeout=10
            )
        except (*_CONNECT_ERRORS, asyncpg.PostgresError) as err:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {_safe(self.url)}: {err}; check --store and that "
                "the server is running"
            ) from err

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                # close() waits for every borrowed connection; a stuck one must not hang us.
                async with asyncio.timeout(5.0):
                    await pool.close()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    async def ping(self) -> None:
        """StoreUnavailable unless `SELECT 1` answers within 2 s."""
        try:
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1", timeout=2)
        except (*_CONNECT_ERRORS, TimeoutError, asyncpg.PostgresError) as err:
            raise StoreUnavailable(f"PostgreSQL does not answer: {err}") from err

    async def fetchone(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        """The first row, or None."""
        async with self.pool.acquire() as conn:
            return await _Tx(conn).fetchone(sql, args)

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Every row."""
        async with self.pool.acquire() as conn:
            return await _Tx(conn).fetchall(sql, args)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement (autocommit)."""
        async with self.pool.acquire() as conn:
            return await _Tx(conn).execute(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement per row, in one transaction (asyncpg's executemany is atomic)."""
        async with self.pool.acquire() as conn:
            await _Tx(conn).executemany(sql, rows)

    @contextlib.asynccontextmanager
    async def _transaction(self, lock: bool = False) -> AsyncIterator[Executor]:
        async with self.pool.acquire() as conn, conn.transaction():
            if lock:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            yield _Tx(conn)

    def transaction(self) -> AbstractAsyncContextManager[Executor]:
        """Commit together or roll back."""
        return self._transaction()

    def migration_lock(self) -> AbstractAsyncContextManager[Executor]:
        """A transaction holding the cluster's migration lock."""
        return self._transaction(lock=True)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", url)
