"""Real PostgreSQL and Redis for relay tests: a fresh database and key prefix per test.

PostgreSQL and Redis run on 127.0.0.1 on this project's machines (and CI's); other suites use
them at the same time, so every test gets its own database name and Redis key prefix and removes
them afterwards. Set HOMEHUB_TEST_PG / HOMEHUB_TEST_REDIS to point elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

PG_ADMIN = os.environ.get("HOMEHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HOMEHUB_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _db_url(name: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{name}"


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its URL."""
    name = f"homehub_relay_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN} ({err}); start it to run this")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _db_url(name)
    finally:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def fresh_redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix nobody else uses (its keys deleted afterwards)."""
    prefix = f"homehub-test:{os.getpid()}:{secrets.token_hex(4)}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as err:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({err}); start it to run this")
    try:
        yield prefix
    finally:
        with contextlib.suppress(RedisError, OSError):
            async with asyncio.timeout(10):
                keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
                for start in range(0, len(keys), 1000):
                    await client.delete(*keys[start : start + 1000])
        await client.aclose()
