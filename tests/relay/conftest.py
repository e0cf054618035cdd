"""Fixtures for the relay suites.

Every test that takes `relay` or `relay_backend` runs twice: on SQLite with in-process routing
(one node, the default) and on PostgreSQL with Redis routing (the cluster's parts), each with
its own database and Redis key prefix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import relay_testkit
from cluster_services import REDIS_URL, fresh_database, fresh_redis_prefix
from relay_testkit import PASSWORD, running_relay

from relay import RelayServer

BACKENDS = ("sqlite", "postgresql+redis")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that needs a relay over both backends."""
    if "relay_backend" in metafunc.fixturenames:
        metafunc.parametrize("relay_backend", BACKENDS, indirect=True)


@pytest.fixture
async def relay_backend(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """Point relay_config() at the backend under test for the length of the test."""
    if request.param == "sqlite":
        relay_testkit.BACKEND = {}
        yield "sqlite"
        return
    async with fresh_database() as store_url, fresh_redis_prefix() as prefix:
        relay_testkit.BACKEND = {
            "store_url": store_url,
            "routing_url": REDIS_URL,
            "routing_prefix": prefix,
        }
        try:
            yield str(request.param)
        finally:
            relay_testkit.BACKEND = {}


@pytest.fixture
async def relay(tmp_path: Path, relay_backend: str) -> AsyncIterator[RelayServer]:
    """A relay with two accounts: alice and bob."""
    async with running_relay(tmp_path / "relay") as server:
        await server.create_account("alice@example.org", PASSWORD)
        await server.create_account("bob@example.org", PASSWORD)
        yield server

