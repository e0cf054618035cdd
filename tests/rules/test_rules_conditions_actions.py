"""Conditions, actions, run modes and reminders through the real hub, on a ManualClock."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rules_env import Env, make_env, settle, wait_for

from hub.clock import ManualClock
from hub.events import Notification

LAMP_ON = {"type": "state", "device": "lamp", "property": "power", "to": True}
NOTIFY = [{"type": "notify", "message": "fired"}]


def results(env: Env, rule_id: str) -> list[str]:
    return [t["result"] for t in env.traces(rule_id)]


async def fire_and_wait(env: Env, rule_id: str, n: int) -> None:
    await env.sense("lamp", power=True)
    await wait_for(lambda: len(env.traces(rule_id)) >= n)
    await env.sense("lamp", power=False)


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"type": "state", "device": "heater", "property": "power", "is": False}, True),
        ({"type": "state", "device": "heater", "property": "power", "is": "on"}, False),
        ({"type": "state", "device": "lamp", "property": "brightness", "in": [10, 50]}, True),
        ({"type": "numeric", "device": "heater", "property": "temperature", "above": 19}, True),
        ({"type": "numeric", "device": "heater", "property": "temperature", "below": 19}, False),
        # The heater reads exactly 20.0: both bounds are strict.
        ({"type": "numeric", "device": "heater", "property": "temperature", "above": 20}, False),
        ({"type": "numeric", "device": "heater", "property": "temperature", "below": 20}, False),
        (
            {
                "type": "numeric",
                "device": "heater",
                "property": "temperature",
                "above": 19.5,
                "below": 20.5,
            },
            True,
        ),
        (
            {
                "type": "numeric",
                "device": "heater",
                "property": "temperature",
                "above": 15,
                "below": 20,
            },
            False,
        ),
        # a property the device never reported (unknown devices are refused at save)
        ({"type": "numeric", "device": "door", "property": "temperature", "above": 0}, False),
        # ManualClock starts Tue 2023-11-14 22:13:20 UTC.
        ({"type": "time", "after": "22:00", "before": "06:00"}, True),
        ({"type": "time", "after": "06:00", "before": "22:00"}, False),
        ({"type": "time", "before": "23:00"}, True),
        ({"type": "weekday", "days": ["tue", "wed"]}, True),
        ({"type": "weekday", "days": ["sat", "sun"]}, False),
        ({"type": "presence", "state": "everyone_away"}, True),
        ({"type": "presence", "state": "someone_home"}, False),
        ({"type": "presence", "state": "away", "person": "anna"}, True),
        (
            {
                "type": "and",
                "conditions": [
                    {"type": "weekday", "days": ["tue"]},
                    {"type": "presence", "state": "someone_home"},
                ],
            },
            False,
        ),
        (
            {
                "type": "or",
                "conditions": [
                    {"type": "weekday", "days": ["sun"]},
                    {"type": "presence", "state": "everyone_away"},
                ],
            },
            True,
        ),
        ({"type": "not", "conditions": [{"type": "weekday", "days": ["tue"]}]}, False),
        ({"type": "not", "conditions": [{"type": "weekday", "days": ["sun"]}]}, True),
    ],
)
async def test_condition(env: Env, condition: dict, holds: bool) -> None:
    await env.rule({"id": "c", "triggers": [LAMP_ON], "conditions": [condition], "actions": NOTIFY})
    await fire_and_wait(env, "c", 1)
    await wait_for(lambda: env.traces("c")[0]["result"] in ("done", "condition_failed"))
    trace = env.traces("c")[0]
    assert trace["result"] == ("done" if holds else "condition_failed"), trace
    if not holds:
        assert trace["condition"]["index"] == 0
        assert trace["condition"]["reason"]


async def test_condition_texts_in_traces_and_an_edited_rule_checks_its_new_conditions(
    env: Env,
) -> None:
    # The trace must read exactly as check() words each condition (a lone one on a value is
    # worded only when read: see the next test), and an edit must bring its own conditions.
    heater = {"device": "heater", "property": "temperature"}
    conditions = [
        {"type": "numeric", **heater, "above": 19.5, "below": 20.5},
        {"type": "state", "device": "lamp", "property": "brightness", "in": [10, 50]},
        {"type": "weekday", "days": ["tue"]},
    ]
    rule = {"id": "c", "triggers": [LAMP_ON], "conditions": conditions, "actions": NOTIFY}
    await env.rule(rule)
    await fire_and_wait(env, "c", 1)
    await wait_for(lambda: results(env, "c") == ["done"])
    assert env.traces("c")[0]["conditions"] == (
        "heater.temperature = 20.0 is between 19.5 and 20.5; "
        "lamp.brightness is 50 (= [10, 50]); today is tue (in tue)"
    )
    edited = [conditions[0], {"type": "numeric", **heater, "above": 20}]
    resp = await env.client.put("/api/v1/rules/c", json={**rule, "conditions": edited})
    assert resp.status_code == 200, resp.text
    await fire_and_wait(env, "c", 2)
    await wait_for(lambda: results(env, "c") == ["done", "condition_failed"])
    assert env.traces("c")[1]["condition"] == {
        "index": 1,
        "reason": "heater.temperature = 20.0 is not above 20",
    }
    never_reported = {"type": "state", "device": "door", "property": "temperature", "is": 20}
    resp = await env.client.put("/api/v1/rules/c", json={**rule, "conditions": [never_reported]})
    assert resp.status_code == 200, resp.text
    await fire_and_wait(env, "c", 3)
    await wait_for(lambda: len(results(env, "c")) == 3 and results(env, "c")[2] != "running")
    assert env.traces("c")[2]["condition"] == {
        "index": 0,
        "reason": "door.temperature has no reported value",
    }


async def test_a_lone_condition_is_worded_from_the_value_its_run_saw(tmp_path: Path) -> None:
    """A run keeps the value its lone condition was decided on and words it only when the
    trace is read or written: the words must be those of that value, not of a later report,
    in the stored row, in the API and after a restart."""
    above = {"type": "numeric", "device": "heater", "property": "temperature", "above": 19.5}
    held = "heater.temperature = 20.0 is above 19.5"
    failed = {"index": 0, "reason": "heater.temperature = 19.0 is not above 19.5"}
    async with make_env(tmp_path) as env:

        async def run_once(results: list[str]) -> None:
            # Waits on the kept traces themselves: env.traces() would put them into words, and
            # the write below must do that on its own.
            kept = env.engine.rules["c"].traces
            await env.sense("lamp", power=True)
            await wait_for(lambda: [t["result"] for t in kept] == results)
            await env.sense("lamp", power=False)

        await env.rule({"id": "c", "triggers": [LAMP_ON], "conditions": [above], "actions": NOTIFY})
        await run_once(["done"])
        await env.sense("heater", temperature=19.0)
        await run_once(["done", "condition_failed"])
        await env.sense("heater", temperature=25.0)
        await env.engine.flush_traces()  # the first to read them: the write words them
        with sqlite3.connect(tmp_path / "homehub.db") as conn:
            docs = [
                json.loads(doc)
                for (doc,) in conn.execute(
                    "SELECT doc FROM rule_traces WHERE rule_id='c' ORDER BY seq"
                )
            ]
        assert [d.get("conditions") for d in docs] == [held, None]
        assert docs[1]["condition"] == failed
        api = (await env.client.get("/api/v1/rules/c/traces")).json()["traces"]
        assert [t.get("conditions") for t in reversed(api)] == [held, None]
        assert api[0]["condition"] == failed
    async with make_env(tmp_path) as env:
        assert [t.get("conditions") for t in env.traces("c")] == [held, None]
        assert env.traces("c")[1]["condition"] == failed


async def test_presence_condition_follows_api(env: Env) -> None:
    await env.rule(
        {
            "id": "c",
            "triggers": [LAMP_ON],
            "conditions": [{"type": "presence", "state": "home", "person": "anna"}],
            "actions": NOTIFY,
        }
    )
    await fire_and_wait(env, "c", 1)
    await env.client.post("/api/v1/presence", json={"person": "anna", "home": True})
    await fire_and_wait(env, "c", 2)
    await wait_for(lambda: results(env, "c") == ["condition_failed", "done"])


async def test_set_action_reaches_offline_device_when_it_returns(env: Env) -> None:
    await env.rule(
        {
            "id": "s",
            "triggers": [LAMP_ON],
            "actions": [
                {
                    "type": "set",
                    "device": "heater",
                    "values": {"power": True, "target_temperature": 23},
                }
            ],
        }
    )
    await env.virtual.unplug("heater")
    await env.sense("lamp", power=True)
    await wait_for(lambda: results(env, "s") == ["done"])
    step = env.traces("s")[0]["steps"][0]
    assert step["result"]["command_id"].startswith("cmd_")
    assert env.virtual.devices["heater"].applied == []
    await env.virtual.plug_in("heater")
    await wait_for(lambda: env.value("heater", "target_temperature") == 23)
    assert env.virtual.devices["heater"].applied == [{"power": True, "target_temperature": 23}]


async def test_set_action_error_is_traced(env: Env) -> None:
    await env.rule(
        {
            "id": "s",
            "triggers": [LAMP_ON],
            "actions": [
                {"type": "set", "device": "heater", "values": {"target_temperature": 99}},
                {"type": "notify", "message": "not reached"},
            ],
        }
    )
    await env.sense("lamp", power=True)
    await wait_for(lambda: results(env, "s") == ["error"])
    assert "target_temperature" in env.traces("s")[0]["steps"][0]["error"]
    assert env.sink.notices == []


async def test_command_action_uses_send_command(env: Env) -> None:
    # Virtual devices have no named commands: the registry's answer lands in the trace.
    await env.rule(
        {
            "id": "ir",
            "triggers": [LAMP_ON],
            "actions": [{"type": "command", "device": "heater", "command": "power_toggle"}],
        }
    )
    await env.virtual.unplug("heater")
    await env.sense("lamp", power=True)
    await wait_for(lambda: results(env, "ir") == ["error"])
    assert "offline" in env.traces("ir")[0]["steps"][0]["error"]


async def test_scene_action(env: Env) -> None:
    c = env.client
    resp = await c.put(
        "/api/v1/scenes/evening",
        json={"devices": {"heater": {"target_temperature": 22}, "lamp": {"brightness": 30}}},
    )
    assert resp.status_code == 200, resp.text
    await env.rule(
        {
            "id": "sc",
            "triggers": [{"type": "event", "name": "dusk"}],
            "actions": [{"type": "scene", "scene": "evening"}],
        }
    )
    await c.post("/api/v1/events/dusk", json={})
    await wait_for(lambda: env.value("lamp", "brightness") == 30)
    await wait_for(lambda: env.value("heater", "target_temperature") == 22)
    assert (await c.get("/api/v1/scenes")).json()["scenes"][0]["name"] == "evening"


async def test_notify_reaches_websocket_through_the_inbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from hub.rules import RulesEngine
    from hub.testing import running_hub

    caplog.set_level(logging.INFO, logger="hub.rules.notify")
    engine = RulesEngine()  # default sinks: the log (the inbox publishes on the bus)
    async with running_hub(tmp_path, components=[engine]) as rh:
        got: list[Notification] = []
        rh.hub.bus.subscribe(got.append, [Notification])
        await rh.client.post(
            "/api/v1/rules",
            json={
                "id": "n",
                "triggers": [{"type": "event", "name": "x"}],
                "actions": [{"type": "notify", "title": "Hi", "message": "hello"}],
            },
        )
        ws_url = rh.url.replace("http", "ws") + "/api/v1/events?types=notification"
        import aiohttp

        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(ws_url, headers={"Authorization": f"Bearer {rh.token}"}) as ws,
        ):
            await rh.client.post("/api/v1/events/x", json={})
            msg = await ws.receive_json(timeout=10)
            while msg["type"] != "notification":  # the hub greets first
                msg = await ws.receive_json(timeout=10)
        assert msg["type"] == "notification"
        assert (msg["title"], msg["message"], msg["rule_id"]) == ("Hi", "hello", "n")
        assert len(got) == 1
        # The log sink wrote it too.
        assert any(
            "hello" in r.getMessage() for r in caplog.records if r.name == "hub.rules.notify"
        )


async def test_delay_action_waits_on_the_clock(env: Env) -> None:
    await env.rule(
        {
            "id": "d",
            "triggers": [LAMP_ON],
            "actions": [
                {"type": "notify", "message": "one"},
                {"type": "delay", "for": "5m"},
                {"type": "notify", "message": "two"},
            ],
        }
    )
    await env.sense("lamp", power=True)
    await wait_for(lambda: len(env.sink.notices) == 1)
    await wait_for(lambda: _delays_armed(env) == 1)
    await env.advance(299)
    assert len(env.sink.notices) == 1
    await env.advance(1)
    await wait_for(lambda: [n.message for n in env.sink.notices] == ["one", "two"])
    await wait_for(lambda: results(env, "d") == ["done"])


async def _mode_rule(env: Env, mode: str, max_runs: int = 2) -> None:
    await env.rule(
        {
            "id": "m",
            "mode": mode,
            "max_runs": max_runs,
            "triggers": [{"type": "event", "name": "go"}],
            "actions": [{"type": "delay", "for": "1m"}, {"type": "notify", "message": "end"}],
        }
    )


def _delays_armed(env: Env) -> int:
    return sum(1 for t in env.engine.wheel.armed.values() if t[0].kind == "delay")


async def _go(env: Env, times: int) -> None:
    """Fire the rule and wait until each resulting run is waiting in its (clock-based) delay."""
    for _ in range(times):
        before = len(env.traces("m"))
        await env.client.post("/api/v1/events/go", json={})
        await wait_for(lambda b=before: len(env.traces("m")) == b + 1)
        running = sum(1 for t in env.traces("m") if t["result"] == "running")
        await wait_for(lambda r=running: _delays_armed(env) == r)


async def test_mode_single_ignores_while_running(env: Env) -> None:
    await _mode_rule(env, "single")
    await _go(env, 3)
    await env.advance(60)
    await wait_for(lambda: len(env.sink.notices) == 1)
    assert results(env, "m") == ["done", "skipped", "skipped"]


async def test_mode_restart_cancels_running(env: Env) -> None:
    await _mode_rule(env, "restart")
    await _go(env, 1)
    await env.advance(30)
    await _go(env, 1)
    await env.advance(30)
    await settle()
    assert env.sink.notices == []  # the first run was cancelled before its delay ended
    await env.advance(30)
    await wait_for(lambda: len(env.sink.notices) == 1)
    assert results(env, "m") == ["cancelled", "done"]


async def test_mode_queued_runs_one_after_another(env: Env) -> None:
    await _mode_rule(env, "queued", max_runs=1)
    await _go(env, 3)  # one runs, one waits, one is dropped (queue of 1)
    await env.advance(60)
    await wait_for(lambda: len(env.sink.notices) == 1)
    await env.advance(60)
    await wait_for(lambda: len(env.sink.notices) == 2)
    await env.advance(60)
    await settle()
    assert len(env.sink.notices) == 2
    assert sorted(results(env, "m")) == ["done", "done", "skipped"]


async def test_mode_parallel_with_limit(env: Env) -> None:
    await _mode_rule(env, "parallel", max_runs=2)
    await _go(env, 3)
    await env.advance(60)
    await wait_for(lambda: len(env.sink.notices) == 2)
    await settle()
    assert sorted(results(env, "m")) == ["done", "done", "skipped"]


async def test_reminder_anchored_to_trigger_and_stops_when_cleared(env: Env) -> None:
    await env.rule(
        {
            "id": "door",
            "triggers": [{"type": "state", "device": "door", "property": "contact", "to": True}],
            "actions": [{"type": "remind", "message": "door open", "every": "5m", "max": 10}],
        }
    )
    await env.advance(17)  # t0 is not on a round minute: reminders must not snap to :05
    t0 = env.clock.now()
    await env.sense("door", contact=True)
    for step in range(1, 4):
        await env.advance(299)
        await settle()
        assert len(env.sink.notices) == step - 1
        await env.advance(1)
        await wait_for(lambda s=step: len(env.sink.notices) == s)
    dues = [t["timer"]["due"] for t in env.traces("door") if t.get("timer")]
    assert dues == [t0 + 300, t0 + 600, t0 + 900]
    assert [n.count for n in env.sink.notices] == [1, 2, 3]
    assert all(n.kind == "remind" for n in env.sink.notices)
    await env.sense("door", contact=False)  # cleared
    await env.advance(3600)
    await settle()
    assert len(env.sink.notices) == 3
    assert env.traces("door")[-1]["result"] == "cleared"


async def test_reminder_at_most_max_times(env: Env) -> None:
    await env.rule(
        {
            "id": "door",
            "triggers": [{"type": "state", "device": "door", "property": "contact", "to": True}],
            "actions": [
                {
                    "type": "remind",
                    "message": "door open",
                    "every": "5m",
                    "max": 3,
                    "while": {"type": "state", "device": "door", "property": "contact", "is": True},
                }
            ],
        }
    )
    await env.sense("door", contact=True)
    for _ in range(10):
        await env.advance(300)
        await settle()
    await wait_for(lambda: len(env.sink.notices) == 3)
    await env.advance(3600)
    await settle()
    assert len(env.sink.notices) == 3
    assert env.engine.wheel.armed == {}


async def test_time_condition_uses_configured_timezone(tmp_path: Path) -> None:
    zone = ZoneInfo("Asia/Tokyo")
    start = datetime(2024, 5, 1, 8, 0, tzinfo=zone).timestamp()  # 23:00 UTC
    async with make_env(tmp_path, ManualClock(start), {"timezone": "Asia/Tokyo"}) as env:
        await env.rule(
            {
                "id": "c",
                "triggers": [LAMP_ON],
                "conditions": [{"type": "time", "after": "07:00", "before": "09:00"}],
                "actions": NOTIFY,
            }
        )
        await fire_and_wait(env, "c", 1)
        await wait_for(lambda: results(env, "c") == ["done"])


def _waits_armed(env: Env) -> int:
    return sum(1 for t in env.engine.wheel.armed.values() if t[0].kind == "wait")


WAIT_RULE = {
    "id": "w",
    "triggers": [{"type": "event", "name": "go"}],
    "actions": [
        {"type": "set", "device": "lamp", "values": {"power": True}},
        {
            "type": "wait",
            "until": {"type": "state", "device": "door", "property": "contact", "is": False},
            "timeout": "10m",
        },
        {"type": "notify", "message": "door closed"},
    ],
}


async def test_wait_continues_when_condition_holds(env: Env) -> None:
    await env.sense("door", contact=True)
    await env.rule(WAIT_RULE)
    await env.client.post("/api/v1/events/go", json={})
    await wait_for(lambda: _waits_armed(env) == 1)
    await env.advance(120)
    assert env.sink.notices == []
    await env.sense("door", contact=False)
    await wait_for(lambda: [n.message for n in env.sink.notices] == ["door closed"])
    await wait_for(lambda: results(env, "w") == ["done"])
    assert env.traces("w")[0]["steps"][1]["result"] == "condition met"
    assert env.engine.waits.waiting == {}


async def test_wait_times_out_and_stops_or_continues(env: Env) -> None:
    await env.sense("door", contact=True)
    await env.rule(WAIT_RULE)
    await env.client.post("/api/v1/events/go", json={})
    await wait_for(lambda: _waits_armed(env) == 1)
    await env.advance(600)
    await wait_for(lambda: results(env, "w") == ["timeout"])
    assert env.sink.notices == []
    cont = {**WAIT_RULE, "actions": [dict(a) for a in WAIT_RULE["actions"]]}
    cont["actions"][1]["on_timeout"] = "continue"
    assert (await env.client.put("/api/v1/rules/w", json=cont)).status_code == 200
    await env.client.post("/api/v1/events/go", json={})
    await wait_for(lambda: _waits_armed(env) == 1)
    await env.advance(600)
    await wait_for(lambda: [n.message for n in env.sink.notices] == ["door closed"])
    assert env.engine.waits.waiting == {}


async def test_rule_fired_and_event_chains_reach_listeners(env: Env) -> None:
    """A run announces itself (RuleFired) to subscribers and streams alike, and its event
    action triggers the next rule in the same hub."""
    from hub.events import NamedEvent, RuleFired

    fired: list[RuleFired] = []
    named: list[str] = []
    env.rh.hub.bus.subscribe(fired.append, [RuleFired])
    env.rh.hub.bus.subscribe(lambda e: named.append(e.name), [NamedEvent])
    await env.rule(
        {
            "id": "first",
            "triggers": [{"type": "event", "name": "go"}],
            "actions": [{"type": "event", "name": "next", "data": {"n": 1}}],
        }
    )
    await env.rule(
        {"id": "second", "triggers": [{"type": "event", "name": "next"}], "actions": NOTIFY}
    )
    await env.client.post("/api/v1/events/go", json={})
    await wait_for(lambda: results(env, "second") == ["done"])
    assert [f.rule_id for f in fired] == ["first", "second"]
    assert fired[0].run_id == env.traces("first")[0]["run_id"]
    assert fired[1].trigger["name"] == "next" and fired[1].trigger["data"] == {"n": 1}
    assert named == ["go", "next"]
    assert env.traces("first")[0]["steps"] == [{"action": 0, "type": "event", "result": "fired"}]
    assert [n.message for n in env.sink.notices] == ["fired"]


async def test_an_edited_or_disabled_rule_runs_as_it_now_reads(env: Env) -> None:
    """A rule's runs read a plan made from it on its first run: an edit (event-only actions
    to a notify, a new condition) and disabling must each take effect on the next trigger."""
    await env.rule(
        {
            "id": "pong",
            "triggers": [{"type": "event", "name": "ping"}],
            "actions": [{"type": "notify", "message": "pong"}],
        }
    )
    rule = {"id": "r", "triggers": [LAMP_ON], "actions": [{"type": "event", "name": "ping"}]}
    await env.rule(rule)
    await fire_and_wait(env, "r", 1)
    await wait_for(lambda: [n.message for n in env.sink.notices] == ["pong"])
    held = {"type": "numeric", "device": "heater", "property": "temperature", "above": 30}
    edited = {**rule, "conditions": [held], "actions": NOTIFY}
    resp = await env.client.put("/api/v1/rules/r", json=edited)
    assert resp.status_code == 200, resp.text
    await fire_and_wait(env, "r", 2)
    await wait_for(lambda: results(env, "r") == ["done", "condition_failed"])
    assert env.traces("r")[1]["condition"]["reason"] == "heater.temperature = 20.0 is not above 30"
    resp = await env.client.put("/api/v1/rules/r", json={**edited, "conditions": []})
    assert resp.status_code == 200, resp.text
    await fire_and_wait(env, "r", 3)
    await wait_for(lambda: [n.message for n in env.sink.notices] == ["pong", "fired"])
    assert (await env.client.post("/api/v1/rules/r/disable")).status_code == 200
    await env.sense("lamp", power=True)
    await settle()
    assert len(env.traces("r")) == 3
    assert [n.message for n in env.sink.notices] == ["pong", "fired"]
