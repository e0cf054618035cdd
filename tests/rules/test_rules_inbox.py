"""The notifications inbox over real HTTP: what rules send is kept, listed newest first, and
resolved; resolving stops a reminder for good (across a restart, and even when the timer row
outlived the resolve); the events the phone app follows go out on the API WebSocket."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rules_env import Env, make_env, settle, wait_for

from hub.clock import ManualClock
from hub.core.notifications import KEEP

DOOR_OPEN = {"type": "state", "device": "door", "property": "contact", "to": True}
REMINDER = {
    "id": "door",
    "name": "Front door",
    "triggers": [DOOR_OPEN],
    "actions": [
        {"type": "remind", "title": "Door", "message": "the door is open", "every": "5m", "max": 10}
    ],
}
ALERT = {
    "id": "hello",
    "triggers": [{"type": "event", "name": "ring"}],
    "actions": [{"type": "notify", "title": "Bell", "message": "someone rang"}],
}


async def inbox(env: Env, state: str = "all", **params: Any) -> dict[str, Any]:
    r = await env.client.get("/api/v1/notifications", params={"state": state, **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


@asynccontextmanager
async def events(env: Env, types: str) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    url = env.rh.url.replace("http", "ws") + f"/api/v1/events?types={types}"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, headers={"Authorization": f"Bearer {env.rh.token}"}) as ws,
    ):
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        yield ws


def timer_rows(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / "homehub.db") as conn:
        return [r[0] for r in conn.execute("SELECT id FROM rule_timers")]


async def test_alert_is_kept_listed_and_resolved_once(env: Env) -> None:
    await env.rule(ALERT)
    async with events(env, "notification,notification_resolved") as ws:
        await env.client.post("/api/v1/events/ring", json={})
        sent = await ws.receive_json(timeout=10)
        assert sent["type"] == "notification"
        assert (sent["kind"], sent["title"], sent["message"], sent["rule_id"], sent["count"]) == (
            "alert",
            "Bell",
            "someone rang",
            "hello",
            1,
        )
        nid = sent["id"]
        # The entry is committed before the event goes out: the app can reload on it at once.
        page = await inbox(env, "open")
        assert page["open"] == 1
        assert page["next_before"] is None
        [entry] = page["notifications"]
        assert entry == {
            "id": nid,
            "rule_id": "hello",
            "kind": "alert",
            "title": "Bell",
            "message": "someone rang",
            "created": env.clock.now(),
            "updated": env.clock.now(),
            "count": 1,
            "state": "open",
            "resolved_at": None,
            "resolved_by": None,
        }
        assert (await env.client.get(f"/api/v1/notifications/{nid}")).json() == entry

        await env.clock.advance(60)
        r = await env.client.post(f"/api/v1/notifications/{nid}/resolve")
        assert r.status_code == 200, r.text
        resolved = r.json()
        assert resolved["state"] == "resolved"
        assert resolved["resolved_at"] == env.clock.now()
        token_id = env.rh.hub.auth.check(f"Bearer {env.rh.token}")
        assert resolved["resolved_by"] == token_id
        gone = await ws.receive_json(timeout=10)
        assert gone == {
            "type": "notification_resolved",
            "ts": env.clock.now(),
            "id": nid,
            "rule_id": "hello",
            "resolved_by": token_id,
        }
        # Idempotent: the same answer, no second event.
        await env.clock.advance(60)
        again = await env.client.post(f"/api/v1/notifications/{nid}/resolve")
        assert again.status_code == 200
        assert again.json() == resolved
        await env.client.post("/api/v1/events/ring", json={})
        nxt = await ws.receive_json(timeout=10)
        assert nxt["type"] == "notification"  # not a second notification_resolved
        assert nxt["id"] != nid

    assert [n["id"] for n in (await inbox(env, "resolved"))["notifications"]] == [nid]
    assert [n["id"] for n in (await inbox(env, "open"))["notifications"]] == [nxt["id"]]
    assert (await inbox(env))["open"] == 1
    # The rule's trace names the inbox entry.
    steps = [t["steps"][0]["result"] for t in env.traces("hello")]
    assert steps[0]["notification_id"] == nid


async def test_two_resolves_at_once_publish_one_event(env: Env) -> None:
    import asyncio

    from hub.events import NotificationResolved

    got: list[NotificationResolved] = []
    env.rh.hub.bus.subscribe(got.append, [NotificationResolved])
    await env.rule(ALERT)
    await env.client.post("/api/v1/events/ring", json={})
    await wait_for(lambda: env.sink.notices and env.sink.notices[0].id)
    nid = env.sink.notices[0].id
    # In process, so that every read happens before any write (HTTP may serialise them).
    inbox_store = env.rh.hub.notifications
    answers = await asyncio.gather(*(inbox_store.resolve(nid, f"phone{i}") for i in range(5)))
    assert len({json.dumps(a, sort_keys=True) for a in answers}) == 1
    assert [e.id for e in got] == [nid]
    assert answers[0]["resolved_by"] == got[0].resolved_by
    r = await env.client.post(f"/api/v1/notifications/{nid}/resolve")
    assert r.json() == answers[0]
    assert len(got) == 1


async def test_a_repeat_after_the_resolve_is_not_sent(env: Env) -> None:
    """A reminder's repeat already on its way when the person resolves: not stored, no event."""
    from hub.events import Notification

    got: list[Notification] = []
    env.rh.hub.bus.subscribe(got.append, [Notification])
    inbox_store = env.rh.hub.notifications
    nid = await inbox_store.record(rule_id="r", kind="reminder", title="t", message="m")
    assert nid is not None
    await inbox_store.resolve(nid, "phone")
    again = await inbox_store.record(
        rule_id="r", kind="reminder", title="t", message="m", notification_id=nid, count=2
    )
    assert again is None
    assert [e.count for e in got] == [1]
    entry = await inbox_store.get(nid)
    assert (entry["state"], entry["count"]) == ("resolved", 1)


async def test_unknown_ids_and_bad_queries_are_clear_errors(env: Env) -> None:
    r = await env.client.post("/api/v1/notifications/ntf_nope/resolve")
    assert r.status_code == 404
    assert "no notification 'ntf_nope'" in r.json()["error"]["message"]
    assert "GET /api/v1/notifications" in r.json()["error"]["message"]
    r = await env.client.get("/api/v1/notifications/ntf_nope")
    assert r.status_code == 404
    r = await env.client.get("/api/v1/notifications", params={"state": "closed"})
    assert r.status_code == 400
    assert "state" in r.json()["error"]["details"]["fields"]
    r = await env.client.get("/api/v1/notifications", params={"limit": "0"})
    assert r.status_code == 400
    r = await env.client.get("/api/v1/notifications", params={"limit": "201"})
    assert r.status_code == 400


async def test_pages_newest_first(env: Env) -> None:
    await env.rule(ALERT)
    for i in range(5):
        await env.clock.advance(1)
        await env.client.post("/api/v1/events/ring", json={})
        await wait_for(lambda i=i: len(env.sink.notices) == i + 1)
    everything = (await inbox(env, limit=50))["notifications"]
    assert len(everything) == 5
    created = [n["created"] for n in everything]
    assert created == sorted(created, reverse=True)
    seen: list[str] = []
    before: int | None = None
    sizes = []
    while True:
        params: dict[str, Any] = {"limit": 2}
        if before is not None:
            params["before"] = before
        page = await inbox(env, **params)
        sizes.append(len(page["notifications"]))
        seen += [n["id"] for n in page["notifications"]]
        before = page["next_before"]
        if before is None:
            break
    assert sizes == [2, 2, 1]
    assert seen == [n["id"] for n in everything]


async def test_the_inbox_keeps_only_the_newest(env: Env) -> None:
    inbox_store = env.rh.hub.notifications
    inbox_store.keep = 3
    for i in range(5):
        await inbox_store.record(rule_id="r", kind="alert", title="", message=f"m{i}")
    await inbox_store.prune()
    page = await inbox(env)
    assert [n["message"] for n in page["notifications"]] == ["m4", "m3", "m2"]
    assert KEEP >= 1000  # the real bound: months of a busy rule


async def test_reminder_is_one_entry_and_resolving_stops_it_across_restart(
    tmp_path: Path,
) -> None:
    clock = ManualClock(1_700_000_000.0)
    async with make_env(tmp_path, clock) as env:
        await env.rule(REMINDER)
        async with events(env, "notification,notification_resolved") as ws:
            await env.sense("door", contact=True)
            await env.advance(300)
            first = await ws.receive_json(timeout=10)
            await env.advance(300)
            second = await ws.receive_json(timeout=10)
            assert (first["kind"], first["count"], second["count"]) == ("reminder", 1, 2)
            assert first["id"] == second["id"]  # repeats update one entry
            nid = first["id"]
            [entry] = (await inbox(env))["notifications"]
            assert (entry["id"], entry["count"], entry["kind"], entry["title"]) == (
                nid,
                2,
                "reminder",
                "Door",
            )
            assert entry["updated"] - entry["created"] == 300
            assert timer_rows(tmp_path) == ["door#remind0"]

            r = await env.client.post(f"/api/v1/notifications/{nid}/resolve")
            assert r.status_code == 200
            assert (await ws.receive_json(timeout=10))["type"] == "notification_resolved"
        await env.engine.store.flush()
        assert env.engine.wheel.armed == {}
        assert timer_rows(tmp_path) == []  # the durable timer is gone, not just paused
        await env.advance(3600)
        await settle()
        assert len(env.sink.notices) == 2
        last = env.traces("door")[-1]
        assert last["result"] == "resolved"
        assert token_in(last["reason"], env)
        await env.engine.flush_traces()

    # After a restart, with the door still open, nothing comes back.
    async with make_env(tmp_path, clock, values={"door": {"contact": True}}) as env:
        await env.advance(3600)
        await settle()
        assert env.sink.notices == []
        assert env.engine.wheel.armed == {}
        [entry] = (await inbox(env))["notifications"]
        assert (entry["state"], entry["count"]) == ("resolved", 2)


def token_in(reason: str, env: Env) -> bool:
    return env.rh.hub.auth.check(f"Bearer {env.rh.token}") in reason


async def test_a_timer_row_that_outlived_the_resolve_sends_nothing(tmp_path: Path) -> None:
    """As if the hub died between committing the resolve and deleting the timer row."""
    clock = ManualClock(1_700_000_000.0)
    async with make_env(tmp_path, clock) as env:
        await env.rule(REMINDER)
        await env.sense("door", contact=True)
        await env.advance(300)
        await wait_for(lambda: len(env.sink.notices) == 1)
        nid = env.sink.notices[0].id
        await env.engine.store.flush()
    assert timer_rows(tmp_path) == ["door#remind0"]
    with sqlite3.connect(tmp_path / "homehub.db") as conn:
        conn.execute(
            "UPDATE notifications SET state='resolved', resolved_at=1, resolved_by='x' WHERE id=?",
            (nid,),
        )
    async with make_env(tmp_path, clock, values={"door": {"contact": True}}) as env:
        await env.advance(1800)
        await settle()
        assert env.sink.notices == []
        await env.engine.store.flush()
        assert timer_rows(tmp_path) == []
        assert env.traces("door")[-1]["result"] == "resolved"


async def test_a_reminder_whose_condition_cleared_resolves_itself(env: Env) -> None:
    await env.rule(REMINDER)
    await env.sense("door", contact=True)
    await env.advance(300)
    await wait_for(lambda: len(env.sink.notices) == 1)
    await env.sense("door", contact=False)
    await env.advance(300)
    await settle()
    [entry] = (await inbox(env))["notifications"]
    assert (entry["state"], entry["resolved_by"]) == ("resolved", "rule")
    # Opening the door again starts a new reminder with a new entry.
    await env.sense("door", contact=True)
    await env.advance(300)
    await wait_for(lambda: len(env.sink.notices) == 2)
    page = await inbox(env, "open")
    assert [n["count"] for n in page["notifications"]] == [1]
    assert page["notifications"][0]["id"] != entry["id"]


async def test_a_restarted_reminder_replaces_its_open_entry(env: Env) -> None:
    await env.rule({**REMINDER, "mode": "restart"})
    await env.sense("door", contact=True)
    await env.advance(300)
    await wait_for(lambda: len(env.sink.notices) == 1)
    old = env.sink.notices[0].id
    await env.sense("door", contact=False)
    await env.sense("door", contact=True)  # triggers again before the reminder noticed
    await env.advance(300)
    await wait_for(lambda: len(env.sink.notices) == 2)
    assert env.sink.notices[1].id != old
    page = (await inbox(env))["notifications"]
    assert [(n["id"], n["state"], n["resolved_by"]) for n in page] == [
        (env.sink.notices[1].id, "open", None),
        (old, "resolved", "rule"),
    ]


async def test_rules_list_has_last_run_and_get_put_round_trips(env: Env) -> None:
    await env.rule(ALERT)
    await env.rule(REMINDER)
    listed = (await env.client.get("/api/v1/rules")).json()["rules"]
    assert {r["id"]: (r["enabled"], r["last_run"]) for r in listed} == {
        "door": (True, None),
        "hello": (True, None),
    }
    await env.client.post("/api/v1/events/ring", json={})
    await wait_for(lambda: env.traces("hello") and env.traces("hello")[-1]["result"] == "done")
    listed = (await env.client.get("/api/v1/rules")).json()["rules"]
    run = next(r for r in listed if r["id"] == "hello")["last_run"]
    assert run["ts"] == env.clock.now()
    assert (run["result"], run["ok"]) == ("done", True)
    assert run["run_id"] == env.traces("hello")[-1]["run_id"]

    # GET -> edit -> PUT: the strict model does not trip over the read-only last_run.
    got = (await env.client.get("/api/v1/rules/hello")).json()
    assert got["last_run"]["run_id"] == run["run_id"]
    got["name"] = "Doorbell"
    r = await env.client.put("/api/v1/rules/hello", json=got)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Doorbell"
    stored = json.loads(
        (await env.rh.hub.db.fetchone("SELECT doc FROM rules WHERE id='hello'") or ("{}",))[0]
    )
    assert "last_run" not in stored
    # Still strict about anything else.
    got["colour"] = "red"
    r = await env.client.put("/api/v1/rules/hello", json=got)
    assert r.status_code == 422
    assert "colour" in r.text

    # The same for an edited GET document imported as YAML (the TUI's editor does this).
    got.pop("colour")
    got["name"] = "Door bell"
    r = await env.client.post("/api/v1/rules/import", json={"yaml": yaml.safe_dump([got])})
    assert r.status_code == 200, r.text
    assert (await env.client.get("/api/v1/rules/hello")).json()["name"] == "Door bell"
    got["colour"] = "red"
    r = await env.client.post("/api/v1/rules/import", json={"yaml": yaml.safe_dump([got])})
    assert r.status_code == 422
    assert "colour" in r.text

    # Off and on again, as the app's switch does.
    r = await env.client.post("/api/v1/rules/hello/disable")
    assert (r.status_code, r.json()["enabled"]) == (200, False)
    assert r.json()["last_run"]["run_id"] == run["run_id"]
    await env.client.post("/api/v1/events/ring", json={})
    await settle()
    assert len(env.sink.notices) == 1
    listed = (await env.client.get("/api/v1/rules")).json()["rules"]
    assert next(r for r in listed if r["id"] == "hello")["enabled"] is False
    r = await env.client.post("/api/v1/rules/hello/enable")
    assert r.json()["enabled"] is True


async def test_a_failed_run_is_last_run_not_ok(env: Env) -> None:
    await env.rule(
        {
            "id": "broken",
            "triggers": [{"type": "event", "name": "go"}],
            "actions": [{"type": "scene", "scene": "nowhere"}],
        }
    )
    await env.client.post("/api/v1/events/go", json={})
    await wait_for(lambda: env.traces("broken") and env.traces("broken")[-1]["result"] == "error")
    got = (await env.client.get("/api/v1/rules/broken")).json()
    assert (got["last_run"]["result"], got["last_run"]["ok"]) == ("error", False)
