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


async def test_a_writer_whose_begin_never_ran_stays_cancelled(tmp_path: Path) -> None:
    """When the loop shuts down (asyncio.run after the main task failed), every task is
    cancelled at once, the writer's BEGIN statement among them, before the database thread got
    it. The writer must end cancelled, not with the ROLLBACK's "no transaction is active": a
    loop that catches Exception (the trace writer) took that for a failed write, went on, and
    the process never exited."""
    db = Database(tmp_path / "homehub.db")
    await db.open()
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")

        async def write() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")

        writer = asyncio.create_task(write())
        await asyncio.sleep(0)  # the writer made its BEGIN task, which has not run yet
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert writer in others and len(others) == 2, others  # the writer and its statement
        for task in others:
            task.cancel()
        results = await asyncio.gather(*others, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
        async with db.transaction() as conn:  # and the connection is clean
            await conn.execute("INSERT INTO t VALUES (2)")
        assert [r[0] for r in await db.fetchall("SELECT n FROM t")] == [2]
    finally:
        await db.close()
