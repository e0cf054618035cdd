"""RedisRouting on a real Redis: fencing, eviction of a replaced tunnel, events across nodes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from cluster_services import REDIS_URL, fresh_redis_prefix
from relay_testkit import eventually

from relay import protocol as p
from relay.errors import HubOffline
from relay.routing_redis import RedisRouting


class _Link:
    """A hub tunnel as routing sees it: answers with its own name, records its close."""

    def __init__(self, hub_id: str, name: str) -> None:
        self.hub_id = hub_id
        self.name = name
        self.closed: tuple[int, str] | None = None

    async def call(self, request: p.Request, timeout: float) -> p.Response:
        if self.closed is not None:
            raise HubOffline("closed")
        return p.Response(request.id, 200, {"via": self.name, "path": request.path})

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


@pytest.fixture
async def nodes() -> AsyncIterator[list[RedisRouting]]:
    async with fresh_redis_prefix() as prefix:
        routings = [RedisRouting(REDIS_URL, prefix=prefix, node_id=n) for n in "xyz"]
        for r in routings:
            await r.start()
        try:
            yield routings
        finally:
            for r in routings:
                await r.stop()


async def test_a_moved_hub_is_answered_only_by_its_new_tunnel(nodes: list[RedisRouting]) -> None:
    x, y, z = nodes
    old = _Link("hub_1", "old")
    assert await x.attach(old) is None
    req = p.Request(0, "GET", "/api/v1/ping")
    assert (await z.call("hub_1", req, 5)).body == {"via": "old", "path": "/api/v1/ping"}

    new = _Link("hub_1", "new")
    await y.attach(new)  # the hub reconnected to another node: a higher fencing number
    await eventually(lambda: old.closed is not None, what="x closes the replaced tunnel")
    assert old.closed is not None and "replaced" in old.closed[1]
    assert not x.is_local("hub_1")
    # z still remembers x as the holder: x refuses (wrong fence), z asks Redis again.
    assert (await z.call("hub_1", req, 5)).body["via"] == "new"
    assert (await x.call("hub_1", req, 5)).body["via"] == "new"

    # The old tunnel's late detach must not remove the new presence.
    await x.detach(old)
    assert await z.is_online("hub_1")
    await y.detach(new)
    assert not await z.is_online("hub_1")
    with pytest.raises(HubOffline):
        await z.call("hub_1", req, 5)


async def test_a_node_that_stops_answering_fails_calls_fast(nodes: list[RedisRouting]) -> None:
    x, _, z = nodes

    class _Stuck(_Link):
        async def call(self, request: p.Request, timeout: float) -> p.Response:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    await x.attach(_Stuck("hub_2", "stuck"))
    call = asyncio.create_task(z.call("hub_2", p.Request(0, "GET", "/x"), 60))
    await asyncio.sleep(0.2)
    await x.stop()  # the holder disappears (its heartbeat key goes)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(HubOffline, match=r"relay node x|this relay node|offline"):
        await call
    assert loop.time() - t0 < 5  # bounded by the node TTL, not the 60 s request timeout


async def test_events_reach_subscribers_on_every_node_once_and_in_order(
    nodes: list[RedisRouting],
) -> None:
    x, y, z = nodes
    subs = [r.subscribe("hub_3") for r in (x, y, z)]
    # No settling sleep: once Redis confirmed, an event published at once must arrive.
    for r, sub in zip((x, y, z), subs, strict=True):
        assert await r.subscribed(sub, 5), f"node {r.node_id} never confirmed its subscription"
    for i in range(50):
        y.publish("hub_3", {"n": i})
    for sub in subs:
        got = [(await asyncio.wait_for(sub.get(), 5))["n"] for _ in range(50)]
        assert got == list(range(50))
        assert sub._queue.empty()
        sub.close()


async def test_a_subscription_is_confirmed_again_after_the_last_one_left(
    nodes: list[RedisRouting],
) -> None:
    x, y, _ = nodes
    first = x.subscribe("hub_4")
    assert await x.subscribed(first, 5)
    first.close()  # the node unsubscribes from the hub's channel...
    again = x.subscribe("hub_4")  # ...and a phone arriving now must wait for a new confirmation
    assert await x.subscribed(again, 5)
    y.publish("hub_4", {"n": 1})
    assert (await asyncio.wait_for(again.get(), 5)) == {"n": 1}
    again.close()
    assert not await x.subscribed(again, 0.1), "a closed subscription is not confirmed"


def test_a_timed_out_heartbeat_is_named_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    # A heartbeat that times out raises TimeoutError(), whose text is empty: the warning read
    # "Redis does not answer ()" in bench/relay_cluster.py's 51,000-hub run.
    routing = RedisRouting(REDIS_URL, prefix="unused:", node_id="n")
    with caplog.at_level(logging.WARNING, logger="relay.routing_redis"):
        routing._link_down(TimeoutError())
    assert "Redis does not answer (TimeoutError)" in caplog.text
    assert routing.health() is not None and routing.health().startswith("Redis does not answer")
