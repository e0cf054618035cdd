"""A writer cancelled at any moment leaves the database connection usable and consistent.

aiosqlite runs each statement on its own thread, so a cancelled await does not stop the
statement: a BEGIN that ran after its caller was cancelled used to leave the shared connection
inside a transaction, and the hub's final save at stop failed with "cannot start a transaction
within a transaction".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.store.db import Database


async def test_a_writer_cancelled_anywhere_leaves_no_open_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "homehub.db")
    await db.open()
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")
        cancelled = 0
        for n in range(200):

            async def write(value: int = n) -> None:
                async with db.transaction() as conn:
                    await conn.execute("INSERT INTO t VALUES (?)", (value,))
                    await conn.execute("INSERT INTO t VALUES (?)", (-value - 1,))

            task = asyncio.create_task(write())
            for _ in range(n % 7):  # cancel at a different step each time: BEGIN, body, COMMIT
                await asyncio.sleep(0)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                cancelled += 1
            # The next writer always gets a clean connection.
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (?)", (1000 + n,))
            assert not db.conn.in_transaction
        assert cancelled > 0, "no write was cancelled: the test did not test anything"
        # All or nothing: a cancelled write never leaves half its rows.
        rows = {r[0] for r in await db.fetchall("SELECT n FROM t")}
        for n in range(200):
            assert (n in rows) == (-n - 1 in rows), n
            assert 1000 + n in rows
    finally:
        await db.close()
