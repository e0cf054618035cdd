"""The LAN API over real HTTP: auth, validation errors, limits, OpenAPI, events WebSocket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from openapi_spec_validator import validate

from hub.api.http import WS_QUEUE
from hub.auth import Auth
from hub.clock import ManualClock, SystemClock
from hub.events import StateChanged
from hub.store import Database
from hub.testing import RunningHub, eventually, running_hub
from integrations.virtual import VirtualDevice, VirtualIntegration
from integrations.virtual.integration import demo_devices


@pytest.fixture
async def rh(tmp_path: Path):
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as running:
        await running.hub.wait_integrations()
        running.virtual = virtual  # type: ignore[attr-defined]
        yield running


async def test_health_needs_no_token(rh) -> None:
    r = await httpx.AsyncClient(base_url=rh.url).get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["devices"] == 3


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (None, "missing token"),
        ("Bearer hh_not-a-real-token", "unknown or revoked"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
    ],
)
async def test_bad_or_missing_token_is_401(rh, header, fragment) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=rh.url, headers=headers) as c:
        r = await c.get("/api/v1/devices")
    assert r.status_code == 401
    assert fragment in r.json()["error"]["message"]


async def test_revoked_token_is_401(rh) -> None:
    token_id, token = await rh.hub.auth.create_token("phone")
    async with httpx.AsyncClient(
        base_url=rh.url, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        assert (await c.get("/api/v1/devices")).status_code == 200
        r = await rh.client.delete(f"/api/v1/tokens/{token_id}")
        assert r.status_code == 204
        r = await c.get("/api/v1/devices")
        assert r.status_code == 401
    listed = (await rh.client.get("/api/v1/tokens")).json()["tokens"]
    assert any(t["id"] == token_id and t["revoked"] for t in listed)
    assert all("hash" not in t and "token" not in t for t in listed)


async def test_a_token_made_beside_the_running_hub_works_at_once(rh) -> None:
    # What `homehub token create` does: its own connection to the hub's database.
    db = Database(rh.hub.config.db_path)
    await db.open()
    try:
        _, token = await Auth(db, SystemClock()).create_token("kitchen tablet")
    finally:
        await db.close()
    async with httpx.AsyncClient(
        base_url=rh.url, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        r = await c.get("/api/v1/devices")  # long before the periodic reload
        assert r.status_code == 200, r.text
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(rh.url.replace("http", "ws") + "/api/v1/events", params={"token": token})
        as ws,
    ):
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
    # A token that was never made still gets the usual answer.
    async with httpx.AsyncClient(
        base_url=rh.url, headers={"Authorization": f"Bearer {token}x"}
    ) as c:
        r = await c.get("/api/v1/devices")
        assert r.status_code == 401 and "unknown or revoked" in r.text


async def test_pairing_code_works_once(rh) -> None:
    code = await rh.hub.auth.create_pairing_code()
    anon = httpx.AsyncClient(base_url=rh.url)
    r = await anon.post("/api/v1/pair", json={"code": code.lower(), "client_name": "tablet"})
    assert r.status_code == 200
    token = r.json()["token"]
    r2 = await anon.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    assert r2.status_code == 200
    again = await anon.post("/api/v1/pair", json={"code": code, "client_name": "thief"})
    assert again.status_code == 401
    assert "already used" in again.json()["error"]["message"]


async def test_pairing_guesses_are_rate_limited(rh) -> None:
    anon = httpx.AsyncClient(base_url=rh.url)
    statuses = []
    for i in range(12):
        r = await anon.post("/api/v1/pair", json={"code": f"WRONG{i:03d}", "client_name": "x"})
        statuses.append(r.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (json.dumps({"values": {"power": "maybe"}}).encode(), 422, "true/false"),
        (json.dumps({"values": {"brightness": "high"}}).encode(), 422, "takes a number"),
        (json.dumps({"values": {"volume": 3}}).encode(), 422, "no property 'volume'"),
        (json.dumps({"values": {}}).encode(), 422, "values"),
        (json.dumps({"values": {"power": True}, "extra": 1}).encode(), 422, "extra"),
        (json.dumps({"values": {"power": True}, "ttl_s": -5}).encode(), 422, "ttl_s"),
    ],
)
async def test_bad_desired_writes_say_what_is_wrong(rh, body, status, fragment) -> None:
    r = await rh.client.put(
        "/api/v1/devices/virtual-lamp/desired",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == status, r.text
    assert fragment in r.json()["error"]["message"]
    # ... and the hub keeps serving.
    assert (await rh.client.get("/api/v1/health")).status_code == 200


async def test_unknown_device_and_route_are_404(rh) -> None:
    r = await rh.client.get("/api/v1/devices/nope")
    assert r.status_code == 404
    assert "GET /api/v1/devices" in r.json()["error"]["message"]
    r = await rh.client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    r = await rh.client.post("/api/v1/devices")
    assert r.status_code == 405
    assert "GET" in r.json()["error"]["message"]


async def test_huge_body_is_413_and_hub_survives(rh) -> None:
    huge = b'{"values": {"power": true}, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    r = await rh.client.put("/api/v1/devices/virtual-lamp/desired", content=huge)
    assert r.status_code == 413
    assert "limit" in r.json()["error"]["message"]
    assert (await rh.client.get("/api/v1/devices")).status_code == 200


async def test_rename_move_and_remove(rh) -> None:
    r = await rh.client.patch(
        "/api/v1/devices/virtual-lamp", json={"name": "Desk lamp", "room": "Study"}
    )
    assert r.status_code == 200
    assert r.json()["room"] == "Study"
    rooms = (await rh.client.get("/api/v1/rooms")).json()["rooms"]
    assert {"name": "Study", "devices": 1} in rooms
    only_study = (await rh.client.get("/api/v1/devices", params={"room": "Study"})).json()
    assert [d["name"] for d in only_study["devices"]] == ["Desk lamp"]
    assert (await rh.client.delete("/api/v1/devices/virtual-lamp")).status_code == 204
    assert (await rh.client.get("/api/v1/devices/virtual-lamp")).status_code == 404
    # Found again by its integration, it waits for adoption instead of coming back by itself.
    await rh.hub.registry.add_device(rh.virtual.devices["virtual-lamp"].description())
    found = (await rh.client.get("/api/v1/discovered")).json()["discovered"]
    assert [f["key"] for f in found] == ["virtual-lamp"]
    r = await rh.client.post(
        "/api/v1/discovered/virtual-lamp/adopt", json={"name": "Lamp again", "room": "Hall"}
    )
    assert r.status_code == 200
    dev = (await rh.client.get("/api/v1/devices/virtual-lamp")).json()
    assert dev["name"] == "Lamp again"
    assert dev["room"] == "Hall"


async def test_openapi_document_is_valid(rh) -> None:
    doc = (await rh.client.get("/api/v1/openapi.json")).json()
    validate(doc)
    put = doc["paths"]["/api/v1/devices/{device_id}/desired"]["put"]
    schema_ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/DesiredWrite")
    assert "values" in doc["components"]["schemas"]["DesiredWrite"]["properties"]


async def test_events_websocket_filters_by_type_and_device(rh) -> None:
    url = rh.url.replace("http", "ws") + "/api/v1/events"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(
            url, params={"token": rh.token, "types": "state_changed", "devices": "virtual-lamp"}
        ) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello"
            await rh.virtual.sense("virtual-motion", {"motion": True})  # other device: filtered
            await rh.client.put(
                "/api/v1/devices/virtual-lamp/desired", json={"values": {"brightness": 12}}
            )
            event = await ws.receive_json(timeout=5)
            assert event["type"] == "state_changed"
            assert event["device"] == "virtual-lamp"
            assert event["changes"] == {"brightness": 12}
        bad = await session.get(url, params={"token": rh.token, "types": "bogus"})
        assert bad.status == 422
        assert "known:" in (await bad.json())["error"]["message"]
        anon = await session.get(url)
        assert anon.status == 401


async def test_history_query_with_resolution(tmp_path: Path) -> None:
    clock = ManualClock(start=1_800_000_000.0)
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        await clock.advance(1)
        t0 = clock.now()  # after the reading reported at start-up
        for i in range(12):
            await clock.advance(60)
            await virtual.sense("virtual-heater", {"temperature": 18.0 + i})
        r = await rh.client.get(
            "/api/v1/devices/virtual-heater/history",
            params={"property": "temperature", "start": t0, "end": clock.now()},
        )
        points = r.json()["points"]
        assert [p["value"] for p in points] == [18.0 + i for i in range(12)]
        r = await rh.client.get(
            "/api/v1/devices/virtual-heater/history",
            params={"property": "temperature", "start": t0, "end": clock.now(), "resolution": 360},
        )
        coarse = r.json()["points"]
        assert len(coarse) in (2, 3)
        assert coarse[0]["min"] <= coarse[0]["value"] <= coarse[0]["max"]
        r = await rh.client.get(
            "/api/v1/devices/virtual-heater/history", params={"property": "nonsense"}
        )
        assert r.status_code == 422


async def test_history_downsampling_keeps_old_data_as_buckets(tmp_path: Path) -> None:
    clock = ManualClock(start=1_800_000_000.0)
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(
        tmp_path, [virtual], clock=clock, config={"history_raw_days": 1.0}
    ) as rh:
        await rh.hub.wait_integrations()
        await clock.advance(300)
        t0 = clock.now()  # a bucket after the one holding the start-up reading
        for i in range(10):
            await clock.advance(30)
            await virtual.sense("virtual-heater", {"temperature": 20.0 + (i % 2)})
        await rh.hub.history.flush()
        await clock.advance(2 * 86400)
        await rh.hub.history.compact()
        raw = await rh.hub.db.fetchall("SELECT COUNT(*) FROM history")
        assert raw[0][0] == 0
        points = await rh.hub.history.query("virtual-heater", "temperature", t0, clock.now())
        assert points, "rolled-up buckets answer after the raw samples are gone"
        assert min(p["min"] for p in points) == 20.0
        assert max(p["max"] for p in points) == 21.0
        assert all(p["min"] <= p["value"] <= p["max"] for p in points)
        # Ten alternating samples folded into five-minute buckets: the first one holds 9 of them.
        assert points[0]["value"] == pytest.approx((20.0 * 5 + 21.0 * 4) / 9)


async def _history_rows(rh: RunningHub) -> int:
    return int((await rh.hub.db.fetchall("SELECT COUNT(*) FROM history"))[0][0])


async def test_history_keeps_every_sample_of_a_burst(tmp_path: Path) -> None:
    """6,000 readings in one step of the loop (more than the old 5,000-sample buffer held):
    all are written, the burst without waiting for the once-a-second tick."""
    async with running_hub(tmp_path, []) as rh:
        before = await _history_rows(rh)
        for i in range(6000):
            rh.hub.bus.publish(
                StateChanged(ts=1_800_000_000.0 + i, device=f"d{i % 50}",
                             changes={"temperature": float(i)})
            )  # fmt: skip

        async def all_written() -> bool:
            return await _history_rows(rh) == before + 6000

        await eventually(all_written, "all 6,000 samples in the history table")
        assert rh.hub.history.dropped == 0


async def test_history_samples_survive_a_failed_write(tmp_path: Path) -> None:
    """A write that fails (here: the table is missing for a moment) keeps its samples, in
    order, for the next flush."""
    async with running_hub(tmp_path, []) as rh:
        history = rh.hub.history
        await history.flush()
        before = await _history_rows(rh)
        await rh.hub.db.execute("ALTER TABLE history RENAME TO history_away")
        for i in range(3):
            rh.hub.bus.publish(
                StateChanged(ts=1_800_000_000.0 + i, device="d", changes={"temperature": i})
            )
        with pytest.raises(Exception, match="no such table"):
            await history.flush()
        await rh.hub.db.execute("ALTER TABLE history_away RENAME TO history")
        rh.hub.bus.publish(StateChanged(ts=1_800_000_003.0, device="d",
                                        changes={"temperature": 3}))  # fmt: skip
        await history.flush()
        rows = await rh.hub.db.fetchall(
            "SELECT value FROM history WHERE device_id='d' ORDER BY rowid"
        )
        assert [r[0] for r in rows] == [0.0, 1.0, 2.0, 3.0]
        assert await _history_rows(rh) == before + 4


async def test_history_samples_in_a_write_under_way_at_stop_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping cancels the periodic writer. A write it had started holds samples taken out of
    the buffer: it must land before the hub's last flush, not be cancelled with them."""
    import hub.core.history

    monkeypatch.setattr(hub.core.history, "FLUSH_INTERVAL_S", 0.01)
    async with running_hub(tmp_path, []) as rh:
        history, db = rh.hub.history, rh.hub.db
        await history.flush()
        before = await _history_rows(rh)
        async with db._write_lock:  # every write waits here, holding what it took
            for i in range(3):
                rh.hub.bus.publish(
                    StateChanged(ts=1_800_000_000.0 + i, device="d", changes={"temperature": i})
                )
            await eventually(lambda: not history._buffer, "the periodic write took the samples")
            stopping = asyncio.create_task(history.stop())
            for _ in range(5):
                await asyncio.sleep(0)  # the stop cancels the periodic loop meanwhile
        await stopping
        assert await _history_rows(rh) == before + 3


async def test_slow_websocket_client_gets_overflow_notice(rh) -> None:
    """Over the real socket: events published faster than the socket is fed overflow the
    per-socket queue; the client is told how many it lost, then gets the newest ones."""
    burst = WS_QUEUE + 40
    url = rh.url.replace("http", "ws") + "/api/v1/events"
    async with aiohttp.ClientSession() as session, session.ws_connect(
        url, params={"token": rh.token, "types": "state_changed"}
    ) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        # In one step of the event loop: the socket's sender cannot run in between.
        for i in range(burst):
            rh.hub.bus.publish(StateChanged(ts=float(i), device="virtual-heater",
                                            changes={"temperature": float(i)}))
        notices, temperatures = [], []
        while len(temperatures) + sum(n["dropped"] for n in notices) < burst:
            message = await ws.receive_json(timeout=10)
            if message["type"] == "overflow":
                notices.append(message)
            else:
                temperatures.append(message["changes"]["temperature"])
    assert notices and sum(n["dropped"] for n in notices) >= 40
    assert temperatures[-1] == burst - 1  # the newest survive
    assert temperatures == sorted(temperatures)


async def test_event_stream_drops_the_oldest_and_counts_them(rh) -> None:
    stream = rh.hub.bus.stream(maxsize=3)
    for i in range(10):
        await rh.virtual.sense("virtual-heater", {"temperature": 10.0 + i})
    assert stream.dropped == 7
    newest = [(await stream.get()).changes["temperature"] for _ in range(3)]
    assert newest == [17.0, 18.0, 19.0]
    stream.close()
    await asyncio.sleep(0)


async def test_ttl_may_be_up_to_thirty_days_and_no_more(rh) -> None:
    thirty_days = 30 * 24 * 3600
    r = await rh.client.put("/api/v1/devices/virtual-lamp/desired",
                            json={"values": {"brightness": 20}, "ttl_s": thirty_days})
    assert r.status_code == 202, r.text
    r = await rh.client.put("/api/v1/devices/virtual-lamp/desired",
                            json={"values": {"brightness": 21}, "ttl_s": thirty_days + 1})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == f"ttl_s must be between 0 and {thirty_days} seconds"


async def test_a_write_to_an_unknown_property_names_the_ones_the_device_has(rh) -> None:
    """The refusal lists the device's properties, sorted, so a client sees what it can write;
    a device with none says so."""
    bare = VirtualDevice("virtual-bare", "Bare box", {}, {})
    await rh.hub.registry.add_device(bare.description())
    r = await rh.client.put("/api/v1/devices/virtual-lamp/desired",
                            json={"values": {"volume": 3}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        "Reading lamp has no property 'volume' (it has: brightness, power)"
    )
    r = await rh.client.put("/api/v1/devices/virtual-bare/desired",
                            json={"values": {"power": True}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == "Bare box has no property 'power' (it has: none)"


async def test_a_commands_updated_time_follows_its_status_and_created_stays(
    tmp_path: Path,
) -> None:
    """GET /commands/{id}: `created` is when the write was accepted, `updated` when its status
    last changed (here: confirmed 45 s later, when the unplugged lamp came back)."""
    clock = ManualClock(start=1_800_000_000.0)
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], clock=clock) as rh:
        await rh.hub.wait_integrations()
        await virtual.unplug("virtual-lamp")
        written_at = clock.now()
        r = await rh.client.put("/api/v1/devices/virtual-lamp/desired",
                                json={"values": {"brightness": 15}})
        assert r.status_code == 202, r.text
        url = f"/api/v1/commands/{r.json()['command_id']}"
        status = (await rh.client.get(url)).json()
        assert (status["status"], status["created"], status["updated"]) == (
            "pending", written_at, written_at
        )
        await clock.advance(45)
        await virtual.plug_in("virtual-lamp")

        async def confirmed() -> dict[str, Any] | None:
            status = (await rh.client.get(url)).json()
            return status if status["status"] == "confirmed" else None

        status = await eventually(confirmed, "the command confirmed")
        assert (status["created"], status["updated"]) == (written_at, written_at + 45)
