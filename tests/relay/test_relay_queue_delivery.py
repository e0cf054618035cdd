"""The offline queue of desired writes (relay/queue_delivery.py), write by write.

A real relay on SQLite with a hub stand-in on the real tunnel (a `TunnelClient` whose handler
answers each desired write with the status the test scripts), so the hub's answers can be any
status: what the relay records for each (delivered, rejected, still queued, expired), the
event it publishes, the periodic sweep that makes up for a lost kick, notices, stop().

Writes are added to the store directly ("behind the node's back", as another node or a lost
kick leaves them) and delivered by `queue.kick`, a notice or the sweep. The expiry boundary
runs on a driven clock (the queue's `time`, as test_relay_members.py drives the ownership
cache's), and a hub that moves mid-delivery on two Redis-routed nodes with hand-made tunnels
(as test_relay_routing_redis.py does): only there can a tunnel's answer arrive after the move.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import relay_testkit
from cluster_services import REDIS_URL, fresh_redis_prefix
from relay_testkit import eventually, relay_config, running_relay

from hub.relay_link import HubIdentity, ReconnectLogic, TunnelClient
from relay import RelayServer, queue_delivery
from relay import protocol as p
from relay.queue_delivery import QueueDelivery
from relay.routing import EventSubscription
from relay.routing_redis import RedisRouting
from relay.store import RelayStore

ACCOUNT = "acct-queue-test"
EVERY_STATUS = ("queued", "delivered", "rejected", "expired")


class _Hub:
    """A hub on the tunnel that records each desired write and answers from a script.

    `answers[device]` lists (status, body) to answer that device's writes with, in turn (then
    202). While `hold` is set to an unset Event, writes wait for it before being answered.
    `on_write(key)` runs before the answer (e.g. another node recording the write first).
    """

    def __init__(self) -> None:
        self.writes: list[tuple[str, Any, str]] = []  # (device, body, idempotency key)
        self.answers: dict[str, list[tuple[int, Any]]] = {}
        self.hold: asyncio.Event | None = None
        self.on_write: Callable[[str], Awaitable[None]] | None = None

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        await client.send(p.ResyncDone(()))

    async def on_request(self, request: p.Request) -> p.Response:
        parts = request.path.split("/")  # /api/v1/devices/<id>/desired
        if request.method != "PUT" or len(parts) != 6 or parts[5] != "desired":
            return p.Response(request.id, 404, {"error": {"status": 404, "message": "no"}})
        key = request.headers["idempotency-key"]
        self.writes.append((parts[4], json.loads(request.body), key))
        if self.hold is not None:
            await self.hold.wait()
        if self.on_write is not None:
            await self.on_write(key)
        script = self.answers.get(parts[4])
        if script:
            status, body = script.pop(0)
            return p.Response(request.id, status, body)
        return p.Response(request.id, 202, {"command_id": f"c-{key}", "replayed": False})

    def on_disconnected(self) -> None:
        pass

    def keys(self) -> list[str]:
        return [key for _, _, key in self.writes]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The relay's store: SQLite, one node with in-process routing (the logic under test does
    not depend on the backend; test_relay_cluster.py delivers queues across PostgreSQL nodes)."""
    relay_testkit.BACKEND = {}
    return str(request.param)


@pytest.fixture
async def relay(tmp_path: Path, backend: str) -> AsyncIterator[RelayServer]:
    async with running_relay(tmp_path / "relay") as server:
        yield server


def _delivering(hub_id: str) -> bool:
    """Is a delivery task of the hub's queue running (on any QueueDelivery of this loop)?"""
    return any(
        t.get_name() == f"relay-queue-{hub_id}" and not t.done() for t in asyncio.all_tasks()
    )


@contextlib.asynccontextmanager
async def _connected(relay: RelayServer, hub: _Hub) -> AsyncIterator[str]:
    """The stand-in hub, connected, with the delivery its connection kicked already over."""
    identity = HubIdentity.generate()
    hub_id = identity.relay_hub_id
    # The relay publishes hub_online and kicks the queue in one step: once the event is
    # here, that kick has happened, and a write added after its delivery ended gets no kick.
    sub = relay.routing.subscribe(hub_id)
    client = TunnelClient(
        relay.url, identity, hub, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5)
    )
    client.start()
    try:
        await client.wait_connected(15)
        await _next_event(sub, "hub_online")
        sub.close()
        await eventually(lambda: not _delivering(hub_id), what="the connection's delivery")
        yield hub_id
    finally:
        sub.close()
        if hub.hold is not None:
            hub.hold.set()
        await client.stop()


async def _next_event(sub: EventSubscription, kind: str, timeout: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            event = dict(await sub.get())
            if event["type"] == kind:
                return event


async def _enqueue(
    store: RelayStore,
    hub_id: str,
    device: str,
    values: dict[str, Any],
    *,
    expires_in: float = 600.0,
) -> tuple[int, str]:
    """Queue a write without any kick; returns (seq, idempotency key)."""
    now = time.time()
    key = f"relay:{ACCOUNT}:{device}-{now!r}"
    seq = await store.enqueue(
        hub_id, ACCOUNT, device, {"values": values}, key, now, now + expires_in
    )
    return seq, key


async def _outcomes(store: RelayStore, hub_id: str) -> dict[int, tuple[str, Any]]:
    return {i.seq: (i.status, i.result) for i in await store.queued(hub_id, EVERY_STATUS)}


async def _settled(store: RelayStore, hub_id: str) -> bool:
    """No write waits for the hub and no delivery runs."""
    return not await store.queued(hub_id) and not _delivering(hub_id)


async def test_stop_cancels_the_sweep_and_deliveries_and_waits_for_them(
    relay: RelayServer,
) -> None:
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        hub.hold = asyncio.Event()  # the hub never answers while the relay stops
        first, _ = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        second, _ = await _enqueue(relay.store, hub_id, "fan", {"speed": 1})
        relay.queue.kick(hub_id)
        await eventually(lambda: len(hub.writes) == 1, what="the first write at the hub")
        tasks = [
            t
            for t in asyncio.all_tasks()
            if t.get_name() in ("relay-queue-sweep", f"relay-queue-{hub_id}")
        ]
        assert len(tasks) == 2 and not any(t.done() for t in tasks)
        async with asyncio.timeout(5):
            await relay.queue.stop()
        assert all(t.cancelled() for t in tasks)
        # What was not delivered stays queued for the next start.
        assert [i.seq for i in await relay.store.queued(hub_id)] == [first, second]


async def test_the_hubs_answer_decides_delivered_or_rejected_and_is_announced(
    relay: RelayServer,
) -> None:
    hub = _Hub()
    # 2xx: delivered; 300 up to 499: rejected, with the hub's answer kept. Boundaries included.
    statuses = (200, 202, 299, 300, 302, 399, 400, 404, 409, 499)
    async with _connected(relay, hub) as hub_id:
        sub = relay.routing.subscribe(hub_id)
        try:
            # First a write another node records while the hub handles it: recorded once, by
            # that node, and not announced a second time by this one.
            other_seq, other_key = await _enqueue(relay.store, hub_id, "dev-other", {"n": 0})

            async def other_node_first(key: str) -> None:
                if key == other_key:
                    assert await relay.store.finish_queued(other_seq, "delivered", {"by": "x"})

            hub.on_write = other_node_first
            seqs = {}
            for status in statuses:
                hub.answers[f"dev-{status}"] = [(status, {"answer": status})]
                seqs[status], _ = await _enqueue(
                    relay.store, hub_id, f"dev-{status}", {"n": status}
                )
            t0 = time.time()
            relay.queue.kick(hub_id)
            # The delivery ends once the queue is empty (it does not poll an empty queue).
            await eventually(
                lambda: _settled(relay.store, hub_id),
                timeout=10,
                what="every write answered and the delivery over",
            )
            t1 = time.time()

            outcomes = await _outcomes(relay.store, hub_id)
            assert outcomes[other_seq] == ("delivered", {"by": "x"})
            for status in statuses:
                want = "delivered" if status < 300 else "rejected"
                assert outcomes[seqs[status]] == (want, {"answer": status}), status
            # Each write went to the hub once, in order, with its body.
            assert [(d, b) for d, b, _ in hub.writes] == [("dev-other", {"values": {"n": 0}})] + [
                (f"dev-{s}", {"values": {"n": s}}) for s in statuses
            ]
            assert len(set(hub.keys())) == len(hub.writes)

            # One event per write this node recorded, in order; none for the other node's.
            events = [await _next_event(sub, "queued_write") for _ in statuses]
            for status, event in zip(statuses, events, strict=True):
                assert t0 <= event.pop("ts") <= t1
                assert event == {
                    "type": "queued_write",
                    "id": f"q{seqs[status]}",
                    "status": "delivered" if status < 300 else "rejected",
                    "device": f"dev-{status}",
                    "result": {"answer": status},
                }
        finally:
            sub.close()


async def test_a_5xx_answer_keeps_the_write_queued_and_the_next_kick_retries_it(
    relay: RelayServer,
) -> None:
    hub = _Hub()
    hub.answers["lamp"] = [
        (500, {"error": "busy"}),
        (503, {"error": "busy"}),
        (202, {"command_id": "c1", "replayed": False}),
    ]
    async with _connected(relay, hub) as hub_id:
        lamp, lamp_key = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        fan, fan_key = await _enqueue(relay.store, hub_id, "fan", {"speed": 2})
        for attempts in (1, 2):  # 500, then exactly 503: kept; the fan's write waits behind

            def answered(n: int = attempts) -> bool:
                return len(hub.writes) == n and not _delivering(hub_id)

            relay.queue.kick(hub_id)
            await eventually(answered, what=f"attempt {attempts} answered")
            assert [i.seq for i in await relay.store.queued(hub_id)] == [lamp, fan]
            assert hub.keys() == [lamp_key] * attempts
        relay.queue.kick(hub_id)
        await eventually(lambda: _settled(relay.store, hub_id), what="the queue delivered")
        assert await _outcomes(relay.store, hub_id) == {
            lamp: ("delivered", {"command_id": "c1", "replayed": False}),
            fan: ("delivered", {"command_id": f"c-{fan_key}", "replayed": False}),
        }
        # The same key each time (the hub answers a replay if an attempt did land), once
        # delivered never again.
        assert hub.keys() == [lamp_key, lamp_key, lamp_key, fan_key]


async def test_an_expired_write_is_recorded_and_never_sent(relay: RelayServer) -> None:
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        sub = relay.routing.subscribe(hub_id)
        try:
            stale, _ = await _enqueue(relay.store, hub_id, "lamp", {"power": True}, expires_in=-0.5)
            fresh, fresh_key = await _enqueue(relay.store, hub_id, "lamp", {"brightness": 5})
            later, _ = await _enqueue(relay.store, hub_id, "fan", {"speed": 1}, expires_in=-30)
            relay.queue.kick(hub_id)
            await eventually(lambda: _settled(relay.store, hub_id), what="the queue settled")
            assert await _outcomes(relay.store, hub_id) == {
                stale: ("expired", None),
                fresh: ("delivered", {"command_id": f"c-{fresh_key}", "replayed": False}),
                later: ("expired", None),
            }
            assert hub.writes == [("lamp", {"values": {"brightness": 5}}, fresh_key)]
            # An expired write is not announced: the first event is the fresh write's.
            event = await _next_event(sub, "queued_write")
            assert (event["id"], event["status"]) == (f"q{fresh}", "delivered")
        finally:
            sub.close()


async def test_a_write_expiring_exactly_now_is_expired(
    relay: RelayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The boundary on a driven clock (the queue's own reading of time.time())."""
    now = time.time()
    monkeypatch.setattr(queue_delivery, "time", types.SimpleNamespace(time=lambda: now))
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        sub = relay.routing.subscribe(hub_id)
        try:
            body = {"values": {"power": True}}
            at_now = await relay.store.enqueue(hub_id, ACCOUNT, "lamp", body, "k1", now - 9, now)
            just_after = math.nextafter(now, math.inf)
            later = await relay.store.enqueue(
                hub_id, ACCOUNT, "fan", body, "k2", now - 9, just_after
            )
            relay.queue.kick(hub_id)
            await eventually(lambda: _settled(relay.store, hub_id), what="the queue settled")
            outcomes = await _outcomes(relay.store, hub_id)
            assert outcomes[at_now] == ("expired", None)
            assert outcomes[later][0] == "delivered"
            assert hub.keys() == ["k2"]
            event = await _next_event(sub, "queued_write")
            assert (event["id"], event["ts"]) == (f"q{later}", now)
        finally:
            sub.close()


async def test_a_write_the_hub_does_not_answer_in_time_waits_for_the_next_kick(
    tmp_path: Path, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relay.queue_delivery")
    hub = _Hub()
    async with (
        running_relay(tmp_path / "relay", request_timeout_s=0.3) as relay,
        _connected(relay, hub) as hub_id,
    ):
        hub.hold = asyncio.Event()
        seq, key = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        relay.queue.kick(hub_id)
        waits = f"queued write q{seq} for {hub_id} waits"
        await eventually(
            lambda: waits in caplog.text and not _delivering(hub_id),
            timeout=5,
            what="the timed-out write logged as waiting",
        )
        assert [i.seq for i in await relay.store.queued(hub_id)] == [seq]
        hub.hold.set()  # the late answer finds nobody waiting
        hub.hold = None
        relay.queue.kick(hub_id)
        await eventually(lambda: _settled(relay.store, hub_id), what="the retry delivered")
        assert (await _outcomes(relay.store, hub_id))[seq][0] == "delivered"
        assert hub.keys() == [key, key]


async def test_a_kick_during_a_delivery_sends_each_write_once(relay: RelayServer) -> None:
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        hub.hold = asyncio.Event()
        keys = [
            (await _enqueue(relay.store, hub_id, "lamp", {"brightness": b}))[1]
            for b in (10, 20, 30)
        ]
        relay.queue.kick(hub_id)
        await eventually(lambda: len(hub.writes) == 1, what="the first write at the hub")
        for _ in range(3):
            relay.queue.kick(hub_id)
        hub.hold.set()
        await eventually(lambda: _settled(relay.store, hub_id), what="the queue delivered")
        assert hub.keys() == keys


async def test_the_sweep_delivers_a_write_nobody_kicked(relay: RelayServer) -> None:
    await relay.queue.stop()
    relay.queue.start(0.05)
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        # A hub this node does not hold: its writes wait for the node that does.
        away, _ = await _enqueue(relay.store, "hub_elsewhere", "lamp", {"power": True})
        _, key = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        await eventually(
            lambda: _settled(relay.store, hub_id), timeout=5, what="the sweep to deliver the write"
        )
        assert hub.keys() == [key]
        assert [i.seq for i in await relay.store.queued("hub_elsewhere")] == [away]


async def test_the_sweep_goes_on_after_a_failed_pass(
    relay: RelayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="relay.queue_delivery")
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        failed: list[float] = []
        hubs_with_queued = relay.store.hubs_with_queued

        async def fails_once() -> list[str]:
            if not failed:
                failed.append(time.time())
                raise OSError("the database went away for a moment")
            return await hubs_with_queued()

        relay.store.hubs_with_queued = fails_once  # type: ignore[method-assign]
        await relay.queue.stop()
        relay.queue.start(0.05)
        _, key = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        await eventually(
            lambda: _settled(relay.store, hub_id),
            timeout=5,
            what="a later sweep to deliver the write",
        )
        assert failed
        assert "could not look for queued writes; will retry" in caplog.text
        assert hub.keys() == [key]


async def test_only_a_queue_notice_starts_a_delivery(relay: RelayServer) -> None:
    await relay.queue.stop()  # no sweep: only notices deliver here
    hub = _Hub()
    async with _connected(relay, hub) as hub_id:
        seq, key = await _enqueue(relay.store, hub_id, "lamp", {"power": True})
        # In one process a notice is handled (and a delivery started) before notify returns.
        for other in ("ping", "route", "queued", ""):
            await relay.routing.notify(hub_id, other)
            assert not _delivering(hub_id), other
        assert [i.seq for i in await relay.store.queued(hub_id)] == [seq]
        # A notice read off the wire is an equal string, not the same object.
        await relay.routing.notify(hub_id, "".join(["que", "ue"]))
        await eventually(lambda: _settled(relay.store, hub_id), what="the notice's delivery")
        assert hub.keys() == [key]


class _Link:
    """A hub's tunnel as routing sees it, answering every write 202 once `gate` is set."""

    def __init__(self, hub_id: str, gate: asyncio.Event) -> None:
        self.hub_id = hub_id
        self.gate = gate
        self.keys: list[str] = []
        self.closed = False

    async def call(self, request: p.Request, timeout: float) -> p.Response:
        self.keys.append(request.headers["idempotency-key"])
        await self.gate.wait()
        return p.Response(request.id, 202, {"command_id": "c", "replayed": False})

    async def close(self, code: int, reason: str) -> None:
        self.closed = True


async def test_a_hub_that_moves_mid_delivery_is_delivered_by_its_new_node(
    tmp_path: Path, backend: str
) -> None:
    # Two nodes of a cluster (real Redis routing) on one store. A tunnel's answer already on
    # its way when the hub moves still counts; the rest is the new node's to deliver.
    store = RelayStore(tmp_path / "relay.sqlite")
    await store.open()
    config = relay_config(tmp_path)
    async with fresh_redis_prefix() as prefix:
        x, y = (RedisRouting(REDIS_URL, prefix=prefix, node_id=n) for n in ("x", "y"))
        await x.start()
        await y.start()
        qx, qy = QueueDelivery(store, x, config), QueueDelivery(store, y, config)
        hub_id = "hub_moving"
        gate = asyncio.Event()
        old, new = _Link(hub_id, gate), _Link(hub_id, asyncio.Event())
        new.gate.set()
        try:
            await x.attach(old)
            writes = [
                await _enqueue(store, hub_id, "lamp", {"brightness": b}) for b in (10, 20, 30)
            ]
            qx.kick(hub_id)
            await eventually(lambda: old.keys, what="the first write at the old tunnel")
            await y.attach(new)  # the hub reconnected to node y
            await eventually(lambda: not x.is_local(hub_id), what="x to learn the hub moved")
            gate.set()  # the old tunnel's answer to the first write arrives
            await eventually(lambda: not _delivering(hub_id), what="x to stop delivering")
            assert [i.seq for i in await store.queued(hub_id)] == [s for s, _ in writes[1:]]
            assert old.keys == [writes[0][1]]
            # A kick on x goes to the node holding the hub, which delivers the rest.
            qx.kick(hub_id)
            await eventually(lambda: _settled(store, hub_id), what="y to deliver the rest")
            assert new.keys == [k for _, k in writes[1:]]
            assert old.keys == [writes[0][1]]
        finally:
            await qx.stop()
            await qy.stop()
            await x.stop()
            await y.stop()
            await store.close()
