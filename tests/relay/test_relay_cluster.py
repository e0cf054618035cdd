"""Several relay processes on PostgreSQL + Redis, HAProxy in front: the cluster shows its seams.

The first scenario also runs on one node (SQLite + in-process routing), so single-node stays the
same product.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import pytest
import redis.asyncio as aioredis
from cluster_services import REDIS_URL, fresh_database, fresh_redis_prefix
from cluster_testkit import (
    ROOT,
    Node,
    TcpCutoff,
    haproxy,
    private_redis,
    relay_nodes,
)
from relay_testkit import PASSWORD, Phone, claim_code, eventually, linked_hub, running_relay

from hub.relay_link import ReconnectLogic
from hub.relay_link.client import TunnelClient
from hub.relay_link.identity import HubIdentity
from relay import RelayServer
from relay import protocol as p

pytestmark = pytest.mark.timeout(300)


async def _create_account(store_url: str, email: str) -> None:
    """The operator's CLI, against the shared store."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "account", "create", email, "--store", store_url,
        "--data-dir", "/nonexistent-not-used",
        cwd=ROOT, env={**os.environ, "HOMEHUB_RELAY_PASSWORD": PASSWORD},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    assert b"created " + email.encode() in out


@contextlib.asynccontextmanager
async def three_nodes(
    tmp_path: Path, *extra: str
) -> AsyncIterator[tuple[list[Node], str, str, str]]:
    """Nodes a, b, c on a fresh database and key prefix; yields (nodes, store, redis, prefix)."""
    async with fresh_database() as store, fresh_redis_prefix() as prefix, relay_nodes(
        ["a", "b", "c"], tmp_path / "nodes", store, REDIS_URL, prefix, *extra
    ) as nodes:
        yield nodes, store, REDIS_URL, prefix


@pytest.mark.parametrize("layout", ["three-nodes", "one-node"])
async def test_phone_on_a_controls_a_hub_on_b_and_events_reach_c(
    tmp_path: Path, layout: str
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if layout == "three-nodes":
            nodes, store, _, _ = await stack.enter_async_context(three_nodes(tmp_path))
            await _create_account(store, "alice@example.org")
            a, b, c = (n.url for n in nodes)
        else:
            relay: RelayServer = await stack.enter_async_context(running_relay(tmp_path / "r"))
            await relay.create_account("alice@example.org", PASSWORD)
            a = b = c = relay.url
        hub = await stack.enter_async_context(linked_hub(tmp_path / "hub", b))
        phone = await Phone.login(a, "alice@example.org")
        stack.push_async_callback(phone.close)
        hub_id = await phone.claim(await claim_code(hub))
        listing = (await phone.client.get("/v1/hubs")).json()["hubs"]
        assert [(h["hub_id"], h["online"]) for h in listing] == [(hub_id, True)]

        session = await stack.enter_async_context(aiohttp.ClientSession())
        ws = await stack.enter_async_context(
            session.ws_connect(
                c.replace("http", "ws") + f"/v1/hubs/{hub_id}/events",
                headers={"Authorization": f"Bearer {phone.token}"},
            )
        )
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello == {"type": "hello", "hub_id": hub_id, "online": True}

        # Phone on a -> hub on b: applied once by the device, retried key answered as a replay.
        for attempt in range(2):
            r = await phone.client.put(
                f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                json={"values": {"power": True, "brightness": 35}},
                headers={"Idempotency-Key": "cluster-1"},
            )
            assert r.status_code == 202, r.text
            assert r.json().get("replayed", False) is (attempt == 1)
        await eventually(lambda: hub.virtual.devices["virtual-lamp"].values["power"] is True)
        assert hub.virtual.devices["virtual-lamp"].applied == [{"power": True, "brightness": 35}]
        r = await phone.client.get(f"/v1/hubs/{hub_id}/api/devices")
        assert r.status_code == 200
        assert {d["id"] for d in r.json()["devices"]} >= {"virtual-lamp", "virtual-heater"}

        # Hub on b -> phone on c.
        await hub.virtual.sense("virtual-heater", {"temperature": 23.5})
        deadline = time.monotonic() + 10
        while True:
            event = json.loads((await ws.receive(timeout=deadline - time.monotonic())).data)
            if event["type"] == "state_changed" and event["device"] == "virtual-heater":
                break
        assert event["changes"] == {"temperature": 23.5}

        # Any node says where a hub should dial: the least-loaded healthy one.
        async with httpx.AsyncClient() as client:
            route = (await client.get(c + "/v1/hub/route")).json()
        if layout == "one-node":
            assert route["url"] is None  # no --node-url: dial the address you have
            return
        assert {n["node_id"] for n in route["nodes"]} == {"a", "b", "c"}
        assert route["node"] in ("a", "c")  # b holds the hub
        assert len(route["fallbacks"]) == 2
        # A hub told to ask for its route dials the node named, not the one it was given.
        routed = TunnelClient(b, HubIdentity.generate(), _Welcome(), ask_route=True)
        routed.start()
        stack.push_async_callback(routed.stop)
        await routed.wait_connected(15)
        assert routed.dialled == route["url"]
        assert routed.dialled != b.replace("http", "ws") + "/v1/hub/connect"


class _Welcome:
    """A tunnel handler that has nothing to sync and answers nothing."""

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        await client.send(p.ResyncDone(()))

    async def on_request(self, request: p.Request) -> p.Response:
        return p.Response(request.id, 404, None)

    def on_disconnected(self) -> None:
        pass


async def test_kill_9_under_load_loses_and_repeats_nothing(tmp_path: Path) -> None:
    """Hubs and phones through HAProxy; the busiest node dies; count every queued command."""
    async with contextlib.AsyncExitStack() as stack:
        nodes, store, redis_url, prefix = await stack.enter_async_context(three_nodes(tmp_path))
        await _create_account(store, "alice@example.org")
        lb = await stack.enter_async_context(haproxy(nodes, tmp_path))
        hubs = [
            await stack.enter_async_context(linked_hub(tmp_path / f"hub{i}", lb.url))
            for i in range(6)
        ]
        phone = await Phone.login(lb.url, "alice@example.org")
        stack.push_async_callback(phone.close)
        ids = [await phone.claim(await claim_code(h)) for h in hubs]
        client = aioredis.from_url(redis_url, decode_responses=True)
        stack.push_async_callback(client.aclose)

        async def holders() -> dict[str, str]:
            out = {}
            for hub_id in ids:
                raw = await client.get(f"{prefix}hub:{hub_id}")
                if raw:
                    out[hub_id] = raw.split(" ")[0]
            return out

        where = await eventually(lambda: _all(holders, len(ids)), what="presence of all hubs")
        busiest = max(nodes, key=lambda n: sum(1 for v in where.values() if v == n.name))
        moved = [h for h, n in where.items() if n == busiest.name]
        assert moved

        # Load: each hub gets commands numbered 1..N (brightness = number), some before, some
        # during and some after the kill; every accepted one must be applied exactly once.
        accepted: dict[str, list[int]] = {h: [] for h in ids}
        timings: list[float] = []
        refused: list[int] = []

        async def command(hub_id: str, n: int) -> None:
            t0 = time.monotonic()
            try:
                r = await phone.client.put(
                    f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                    json={"values": {"brightness": n}},
                    headers={"Idempotency-Key": f"load-{hub_id}-{n}"},
                    timeout=15.0,
                )
            except httpx.TransportError:
                # In flight to the node as it died: HAProxy drops the connection (a phone
                # retries with the same key). Not accepted, so not counted; never a hang.
                refused.append(n)
                return
            finally:
                timings.append(time.monotonic() - t0)
            if r.status_code in (200, 202):
                accepted[hub_id].append(n)

        async def load(first: int, last: int) -> None:
            for n in range(first, last + 1):
                await asyncio.gather(*(command(h, n) for h in ids))

        await load(1, 5)
        killed_at = time.monotonic()
        busiest.kill()
        await load(6, 15)
        survivors = {n.name for n in nodes if n is not busiest}

        async def back() -> bool:
            now = await holders()
            return all(now.get(h) in survivors for h in moved) and all(
                hubs[ids.index(h)].link.client is not None
                and hubs[ids.index(h)].link.client.connected
                for h in moved
            )

        await eventually(back, timeout=20, what="the dead node's hubs on the survivors")
        failover_s = time.monotonic() - killed_at
        await load(16, 20)

        async def settled() -> bool:
            queue_left = 0
            for h in ids:
                q = (await phone.read(f"/v1/hubs/{h}/queue"))["queue"]
                queue_left += sum(1 for i in q if i["status"] == "queued")
            return queue_left == 0

        await eventually(settled, timeout=30, what="every queued write delivered")
        lost = duplicated = 0
        for h, linked in zip(ids, hubs, strict=True):
            applied = [v["brightness"] for v in linked.virtual.devices["virtual-lamp"].applied]
            lost += len(set(accepted[h]) - set(applied))
            duplicated += len(applied) - len(set(applied))
        print(f"failover_s: {failover_s:.1f} lost: {lost} duplicated: {duplicated} "
              f"dropped_in_flight: {len(refused)}")
        assert failover_s <= 20
        assert (lost, duplicated) == (0, 0)
        assert sum(len(v) for v in accepted.values()) >= len(ids) * 15  # most were accepted
        assert len(refused) <= len(ids)  # only those in flight at the kill
        # No phone request hung past its timeout (10 s at the relay + HAProxy's retry).
        assert max(timings) < 14.0


async def _all(holders: object, n: int) -> dict[str, str] | None:
    got = await holders()  # type: ignore[operator]
    return got if len(got) == n else None


async def test_redis_loss_makes_the_node_unhealthy_and_presence_comes_back_once(
    tmp_path: Path,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(fresh_database())
        redis_server = await stack.enter_async_context(private_redis(tmp_path))
        relay = await stack.enter_async_context(running_relay(
            tmp_path / "relay", store_url=store, routing_url=redis_server.url,
            routing_prefix="t:", node_id="solo",
        ))
        hub = await stack.enter_async_context(linked_hub(tmp_path / "hub", relay.url))
        async with httpx.AsyncClient(base_url=relay.url) as http:
            assert (await http.get("/v1/health")).status_code == 200
            await redis_server.kill()

            async def unhealthy() -> dict | None:
                r = await http.get("/v1/health")
                return r.json() if r.status_code == 503 else None

            body = await eventually(unhealthy, timeout=10, what="health 503")
            assert body["status"] == "unhealthy"
            assert "Redis" in body["reason"]
            # It stops claiming hubs: a new tunnel is refused with the reason.
            r = await http.get("/v1/hub/connect")
            assert r.status_code == 503
            assert "cannot take hubs" in r.json()["error"]["message"]

            await redis_server.start()  # empty: every presence key is gone
            await eventually(
                lambda: _status(http, 200), timeout=15, what="health back to 200"
            )
            client = aioredis.from_url(redis_server.url, decode_responses=True)
            try:
                async def presence() -> list[str]:
                    return [k async for k in client.scan_iter(match="t:hub:*")]

                keys = await eventually(presence, timeout=15, what="presence rebuilt")
                assert keys == [f"t:hub:{hub.relay_hub_id}"]
                holder = await client.get(keys[0])
                assert holder.split(" ")[0] == "solo"
            finally:
                await client.aclose()
            assert hub.link.client is not None and hub.link.client.connected


async def _status(http: httpx.AsyncClient, want: int) -> bool:
    return (await http.get("/v1/health")).status_code == want


async def test_postgresql_loss_makes_the_node_unhealthy(tmp_path: Path) -> None:
    async with fresh_database() as store:
        cut = TcpCutoff(("127.0.0.1", 5432))
        await cut.start()
        via_cutoff = store.replace("127.0.0.1:5432", f"127.0.0.1:{cut.port}")
        try:
            async with running_relay(
                tmp_path / "relay", store_url=via_cutoff
            ) as relay, httpx.AsyncClient(base_url=relay.url) as http:
                assert (await http.get("/v1/health")).status_code == 200
                cut.cut()
                r = await http.get("/v1/health")
                assert r.status_code == 503
                assert "PostgreSQL" in r.json()["reason"]
                cut.restore()
                await eventually(lambda: _status(http, 200), timeout=15, what="healthy")
        finally:
            await cut.close()


async def test_rolling_deploy_drains_one_node_onto_the_others(tmp_path: Path) -> None:
    """SIGTERM a node behind HAProxy: it turns unhealthy at once, its hubs move within the
    drain spread (10 s) and the other hubs never notice."""
    async with contextlib.AsyncExitStack() as stack:
        nodes, _, redis_url, prefix = await stack.enter_async_context(
            three_nodes(tmp_path, "--drain-grace", "2")
        )
        lb = await stack.enter_async_context(haproxy(nodes, tmp_path))
        clients = []
        for _ in range(12):
            c = TunnelClient(lb.url, HubIdentity.generate(), _Welcome(),
                             reconnect=ReconnectLogic(base_s=0.05, cap_s=1.0))
            c.start()
            stack.push_async_callback(c.stop)
            clients.append(c)
        for c in clients:
            await c.wait_connected(30)
        redis = aioredis.from_url(redis_url, decode_responses=True)
        stack.push_async_callback(redis.aclose)

        async def holders() -> dict[str, str]:
            out = {}
            for c in clients:
                raw = await redis.get(f"{prefix}hub:{c.relay_hub_id}")
                if raw:
                    out[c.relay_hub_id] = raw.split(" ")[0]
            return out

        where = await eventually(lambda: _all(holders, len(clients)), what="presence")
        leaving = max(nodes, key=lambda n: sum(1 for v in where.values() if v == n.name))
        staying = {
            c.relay_hub_id: c.sessions for c in clients if where[c.relay_hub_id] != leaving.name
        }
        t0 = time.monotonic()
        leaving.proc.send_signal(signal.SIGTERM)
        seen_draining = await eventually(
            lambda: leaving.health_body(), timeout=5, what="health 503 while draining"
        )
        assert seen_draining["status"] == "draining"

        async def moved() -> bool:
            now = await holders()
            return len(now) == len(clients) and leaving.name not in now.values() and all(
                c.connected for c in clients
            )

        await eventually(moved, timeout=20, what="every hub on the other nodes")
        assert time.monotonic() - t0 < 2 + 10 + 5  # grace + drain spread + reconnect
        # Hubs on the other nodes kept their tunnels throughout.
        assert {c.relay_hub_id: c.sessions for c in clients if c.relay_hub_id in staying} == staying
        assert await asyncio.wait_for(leaving.proc.wait(), 20) == 0
