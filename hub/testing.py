"""A real hub on loopback for tests: `async with running_hub(tmp_path, [...]) as rh:`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hub.app import Hub, HubComponent
from hub.clock import Clock
from hub.config import HubConfig
from hub.model import Integration


@dataclass
class RunningHub:
    """A started hub, its URL, a valid token and a client that sends it."""

    hub: Hub
    url: str
    token: str
    client: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_hub(
    data_dir: Path,
    integrations: Sequence[Integration] = (),
    config: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
    components: Sequence[HubComponent] = (),
) -> AsyncIterator[RunningHub]:
    """Start a hub on 127.0.0.1 with a random port; stop it on exit."""
    cfg = HubConfig(data_dir=Path(data_dir), api_host="127.0.0.1", api_port=0, advertise=False)
    if config:
        cfg = cfg.with_overrides(**config)
    hub = Hub(cfg, integrations=list(integrations), clock=clock, components=components)
    await hub.start()
    try:
        _, token = await hub.auth.create_token("test")
        async with httpx.AsyncClient(
            base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
        ) as client:
            yield RunningHub(hub, hub.url, token, client)
    finally:
        await hub.stop()


async def eventually(
    check: Callable[[], Any], what: str = "the condition", timeout: float = 10.0
) -> Any:
    """Poll `check` (a function, or one returning an awaitable) until its answer is truthy;
    return that answer, or fail after `timeout` seconds saying what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = check()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got
        assert loop.time() < deadline, f"timed out waiting for {what} (last: {got!r})"
        await asyncio.sleep(0.01)
