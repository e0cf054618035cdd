"""A real relay and real hubs on loopback (127.0.6.x, kept apart from other suites)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hub.relay_link import ReconnectLogic, RelayLink
from hub.testing import RunningHub, running_hub
from integrations.virtual.integration import VirtualIntegration, demo_devices
from relay import RelayConfig, RelayServer

# The store and routing every relay of the running test uses (set by the relay_backend fixture).
BACKEND: dict[str, Any] = {}
RELAY_HOST = "127.0.6.1"
HUB_HOST = "127.0.6.2"
PASSWORD = "correct horse battery"


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], timeout: float = 15.0, what: str = "condition"
) -> Any:
    """Poll `check` until it returns a truthy value (awaiting it if needed)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def relay_config(data_dir: Path, **kw: Any) -> RelayConfig:
    """Test settings: quick heartbeats and drains."""
    base = RelayConfig(
        data_dir=data_dir, host=RELAY_HOST, port=0, heartbeat_s=1.0, drain_spread_s=0.5,
        shadow_flush_s=0.05,
        new_hubs_per_address_per_min=1e6,  # every test hub dials from loopback
    )
    return base.with_overrides(**{**BACKEND, **kw})


@contextlib.asynccontextmanager
async def running_relay(data_dir: Path, **kw: Any) -> AsyncIterator[RelayServer]:
    """A started relay node; stopped on exit."""
    server = RelayServer(relay_config(data_dir, **kw))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class LinkedHub:
    """A hub with virtual devices and a relay link."""

    rh: RunningHub
    link: RelayLink
    virtual: VirtualIntegration

    @property
    def relay_hub_id(self) -> str:
        """The hub's id at the relay."""
        assert self.link.client is not None
        return self.link.client.relay_hub_id


@contextlib.asynccontextmanager
async def linked_hub(data_dir: Path, relay_url: str) -> AsyncIterator[LinkedHub]:
    """A hub that dials out to `relay_url`."""
    virtual = VirtualIntegration(demo_devices())
    link = RelayLink(relay_url, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5))
    async with running_hub(
        data_dir, [virtual], config={"api_host": HUB_HOST}, components=[link]
    ) as rh:
        await rh.hub.wait_integrations()
        await link.wait_connected(15)
        yield LinkedHub(rh, link, virtual)


class Phone:
    """An httpx client of the relay's phone API, logged in as one account."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token

    @classmethod
    async def login(cls, base_url: str, email: str) -> Phone:
        """Log in and keep the session token."""
        client = httpx.AsyncClient(base_url=base_url, timeout=15.0)
        r = await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        return cls(client, token)

    async def claim(self, code: str) -> str:
        """Claim a hub; returns its id."""
        r = await self.client.post("/v1/hubs/claim", json={"code": code})
        assert r.status_code == 201, r.text
        return str(r.json()["hub_id"])

    async def read(self, path: str) -> Any:
        """GET a phone API document, waiting as a 429 says (Retry-After) as the app does.

        Checks that poll every 20 ms spend the account's request budget (20/s per node) in a
        few seconds; reading the 429's error body as the document was a flaky KeyError."""
        while True:
            r = await self.client.get(path)
            if r.status_code != 429:
                assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
                return r.json()
            await asyncio.sleep(float(r.headers["Retry-After"]))

    async def close(self) -> None:
        """Close the client."""
        await self.client.aclose()


async def claim_code(hub: LinkedHub) -> str:
    """A claim code through the hub's LAN API, as a person at home would get it."""
    r = await hub.rh.client.post("/api/v1/relay/claim-code")
    assert r.status_code == 200, r.text
    return str(r.json()["code"])


async def table_rows(relay: RelayServer, table: str, columns: str = "*") -> list[tuple[Any, ...]]:
    """Every row of one store table, on whichever database the relay uses."""
    rows = await relay.store.db.fetchall(f"SELECT {columns} FROM {table}")
    return [tuple(r) for r in rows]


async def dump_store(relay: RelayServer) -> bytes:
    """Every value in every table of the relay's store, as bytes to search."""
    if relay.store.kind == "sqlite":
        names = "SELECT name FROM sqlite_master WHERE type='table'"
    else:
        names = "SELECT table_name FROM information_schema.tables WHERE table_schema='public'"
    out = b""
    for (table,) in await relay.store.db.fetchall(names):
        for row in await table_rows(relay, str(table)):
            for value in row:
                out += (value if isinstance(value, bytes) else repr(value).encode()) + b"\n"
    return out
