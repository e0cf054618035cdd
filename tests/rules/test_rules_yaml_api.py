"""YAML round trip, validation errors with line and field, CRUD, dry run, traces, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
import yaml
from rules_env import T0, Env, make_env, settle, wait_for

from hub.clock import ManualClock
from hub.events import NamedEvent
from hub.rules import RuleValidationError, dump_rules_yaml, load_rules_yaml

EXAMPLE = """\
rules:
  - id: heater_left_on
    name: Bathroom heater left on
    mode: single
    missed: fire_once
    triggers:
      - {type: state, device: heater, property: power, to: on, for: 10m}
    conditions:
      - type: presence
        state: everyone_away
      - type: time
        after: 22:00
        before: 06:00
    actions:
      - {type: set, device: heater, values: {power: false}}
      - type: remind
        message: Heater still on
        every: 5m
        max: 3
        while: {type: state, device: heater, property: power, is: true}
  - id: morning
    triggers:
      - {type: time, at: 07:30}
      - {type: cron, cron: "0 12 * * mon-fri"}
      - {type: event, name: wake}
      - {type: availability, device: lamp, to: offline, for: 1h}
      - {type: presence, person: anna, to: home}
      - {type: numeric, device: heater, property: temperature, below: 18.5}
    conditions:
      - type: or
        conditions:
          - {type: weekday, days: [sat, sun]}
          - type: not
            conditions: [{type: numeric, device: heater, property: temperature, above: 30}]
    actions:
      - {type: scene, scene: morning}
      - {type: delay, for: 1h30m}
      - type: wait
        until: {type: state, device: lamp, property: power, in: [true, "on"]}
        timeout: 2m
        on_timeout: continue
      - {type: command, device: heater, command: power_toggle}
      - {type: event, name: done, data: {x: 1}}
      - {type: notify, title: Morning, message: Good morning}
"""


def test_yaml_round_trip() -> None:
    rules = load_rules_yaml(EXAMPLE)
    assert [r.id for r in rules] == ["heater_left_on", "morning"]
    first = rules[0].triggers[0]
    assert first.to is True and first.for_ == 600  # type: ignore[union-attr]
    assert rules[0].conditions[1].after.hour == 22  # type: ignore[union-attr]
    text = dump_rules_yaml(rules)
    again = load_rules_yaml(text)
    assert again == rules
    assert dump_rules_yaml(again) == text
    # The dump is plain YAML that another parser reads the same way.
    doc = yaml.safe_load(text)
    assert doc["rules"][1]["actions"][1] == {"type": "delay", "for": "1h30m"}
    assert doc["rules"][1]["triggers"][0] == {"type": "time", "at": "07:30"}


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            "- id: a\n  triggers:\n    - type: state\n      device: lamp\n      property: power\n"
            "      for: ten minutes\n      to: on\n  actions:\n    - {type: notify, message: x}\n",
            6,
            "0.triggers.0.for",
            "not a duration",
        ),
        (
            "- id: a\n  triggers:\n    - {type: time, at: 25:00}\n"
            "  actions:\n    - {type: notify, message: x}\n",
            3,
            "0.triggers.0.at",
            "time of day",
        ),
        (
            "- id: a\n  triggers:\n    - {type: event, name: x}\n  actions:\n"
            "    - type: notify\n      message: x\n      colour: red\n",
            7,
            "0.actions.0.colour",
            "unknown field",
        ),
        (
            "- id: a\n  triggers:\n    - {type: teleport}\n  actions:\n"
            "    - {type: notify, message: x}\n",
            3,
            "0.triggers.0",
            "unknown type",
        ),
        (
            "rules:\n- id: a\n  triggers:\n    - {type: event, name: x}\n  actions:\n"
            "    - {type: remind, message: x, every: 5m,\n"
            "       while: {type: numeric, device: d, property: temperature}}\n",
            7,
            "rules.0.actions.0.while",
            "above",
        ),
        (
            "- id: a\n  triggers: [{type: event, name: x}]\n  actions: []\n",
            3,
            "0.actions",
            "at least 1",
        ),
        ("- id: a\n  triggers: [\n", 3, "", "not valid YAML"),
        (
            "- id: a\n  triggers:\n    - {type: cron, cron: 'every tuesday'}\n"
            "  actions: [{type: notify, message: x}]\n",
            3,
            "0.triggers.0.cron",
            "cron",
        ),
    ],
)
def test_validation_errors_point_at_line_and_field(
    text: str, line: int, field: str, words: str
) -> None:
    with pytest.raises(RuleValidationError) as info:
        load_rules_yaml(text)
    problem = info.value.problems[0]
    assert problem.line == line, info.value.problems
    assert problem.field == field
    assert words in problem.message


async def test_crud_enable_disable_and_export_import(env: Env) -> None:
    c = env.client
    resp = await c.post("/api/v1/rules/import", content=EXAMPLE.encode())
    assert resp.status_code == 200, resp.text
    assert resp.json()["imported"] == ["heater_left_on", "morning"]
    listed = (await c.get("/api/v1/rules")).json()["rules"]
    assert [r["id"] for r in listed] == ["heater_left_on", "morning"]
    exported = (await c.get("/api/v1/rules/export")).json()["yaml"]
    assert load_rules_yaml(exported) == load_rules_yaml(EXAMPLE)

    rule = (await c.get("/api/v1/rules/morning")).json()
    rule["name"] = "Mornings"
    resp = await c.put("/api/v1/rules/morning", json=rule)
    assert resp.status_code == 200, resp.text
    assert (await c.get("/api/v1/rules/morning")).json()["name"] == "Mornings"
    assert (await c.post("/api/v1/rules/morning/disable")).json()["enabled"] is False
    assert (await c.get("/api/v1/rules/morning")).json()["enabled"] is False
    assert (await c.post("/api/v1/rules/morning/enable")).json()["enabled"] is True
    assert (await c.delete("/api/v1/rules/morning")).status_code == 204
    assert (await c.get("/api/v1/rules/morning")).status_code == 404

    # Import as a JSON string, replacing everything else.
    one = (
        "- id: only\n  triggers: [{type: event, name: x}]\n"
        "  actions: [{type: notify, message: m}]\n"
    )
    resp = await c.post("/api/v1/rules/import", json={"yaml": one, "replace": True})
    assert resp.json() == {"imported": ["only"], "removed": ["heater_left_on"]}
    resp = await c.post("/api/v1/rules/import", json=one)
    assert resp.status_code == 200


async def test_api_validation_errors(env: Env) -> None:
    c = env.client
    bad = (
        "- id: a\n  triggers:\n    - {type: state, device: lamp, property: powr, to: on}\n"
        "  actions: [{type: notify, message: x}]\n"
    )
    resp = await c.post("/api/v1/rules/import", content=bad.encode())
    assert resp.status_code == 422
    err = resp.json()["error"]["details"]["errors"][0]
    assert (err["line"], err["field"]) == (3, "0.triggers.0.property")
    resp = await c.post("/api/v1/rules", json={"triggers": [], "actions": []})
    assert resp.status_code == 422
    ok = {
        "id": "dup",
        "triggers": [{"type": "event", "name": "x"}],
        "actions": [{"type": "notify", "message": "m"}],
    }
    assert (await c.post("/api/v1/rules", json=ok)).status_code == 201
    assert (await c.post("/api/v1/rules", json=ok)).status_code == 422
    assert (
        "/api/v1/rules/{rule_id}/dry-run" in (await c.get("/api/v1/openapi.json")).json()["paths"]
    )


async def test_dry_run_says_why_not(env: Env) -> None:
    await env.rule(
        {
            "id": "warm",
            "triggers": [
                {"type": "numeric", "device": "heater", "property": "temperature", "below": 19}
            ],
            "conditions": [{"type": "presence", "state": "someone_home"}],
            "actions": [{"type": "set", "device": "heater", "values": {"power": True}}],
        }
    )
    c = env.client
    report = (await c.post("/api/v1/rules/warm/dry-run")).json()
    assert report["would_fire"] is False
    assert any("no trigger is active" in r for r in report["reasons"])
    assert any("condition 0 fails" in r for r in report["reasons"])
    await env.client.post("/api/v1/presence", json={"person": "anna", "home": True})
    await env.sense("heater", temperature=17.0)
    await wait_for(lambda: env.value("heater", "power") is True)
    await env.sense("heater", power=False)
    report = (await c.post("/api/v1/rules/warm/dry-run")).json()
    assert report["would_fire"] is True, report
    assert report["reasons"] == []
    assert env.value("heater", "power") is False  # a dry run changes nothing


async def test_traces_record_trigger_condition_and_actions(env: Env) -> None:
    await env.rule(
        {
            "id": "t",
            "triggers": [{"type": "event", "name": "x"}],
            "conditions": [{"type": "weekday", "days": ["tue"]}],
            "actions": [
                {"type": "notify", "message": "m"},
                {"type": "set", "device": "lamp", "values": {"power": True}},
            ],
        }
    )
    await env.client.post("/api/v1/events/x", json={"data": {"k": 1}})
    await wait_for(lambda: env.traces("t") and env.traces("t")[-1]["result"] == "done")
    traces = (await env.client.get("/api/v1/rules/t/traces")).json()["traces"]
    t = traces[0]
    assert t["trigger"]["name"] == "x" and t["trigger"]["data"] == {"k": 1}
    assert "today is tue" in t["conditions"]
    assert [s["type"] for s in t["steps"]] == ["notify", "set"]
    assert t["steps"][1]["result"]["command_id"].startswith("cmd_")


async def test_timers_survive_restart_and_fire_at_original_due(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    async with make_env(tmp_path, clock) as env:
        await env.rule(
            {
                "id": "hold",
                "triggers": [
                    {
                        "type": "state",
                        "device": "heater",
                        "property": "power",
                        "to": True,
                        "for": "10m",
                    }
                ],
                "actions": [{"type": "notify", "message": "on for 10 minutes"}],
            }
        )
        await env.sense("heater", power=True)
        await env.advance(300)
        await env.engine.store.flush()
    # A new hub on the same database; the virtual heater is still on.
    async with make_env(tmp_path, clock, values={"heater": {"power": True}}) as env:
        await env.advance(299)
        assert env.sink.notices == []
        await env.advance(1)
        await wait_for(lambda: len(env.sink.notices) == 1)
        trace = env.traces("hold")[-1]
        assert trace["trigger"]["ts"] == T0 + 600
        await env.advance(3600)
        await settle()
        assert len(env.sink.notices) == 1


@pytest.mark.parametrize(("policy", "fires"), [("fire_once", 1), ("skip", 0)])
async def test_missed_deadlines_follow_policy(tmp_path: Path, policy: str, fires: int) -> None:
    clock = ManualClock(T0)
    async with make_env(tmp_path, clock) as env:
        await env.rule(
            {
                "id": "hold",
                "missed": policy,
                "triggers": [
                    {
                        "type": "state",
                        "device": "heater",
                        "property": "power",
                        "to": True,
                        "for": "10m",
                    }
                ],
                "actions": [{"type": "notify", "message": "late"}],
            }
        )
        await env.rule(
            {
                "id": "tick",
                "missed": policy,
                "triggers": [{"type": "cron", "cron": "*/5 * * * *"}],
                "actions": [{"type": "notify", "message": "tick"}],
            }
        )
        await env.sense("heater", power=True)
        await env.engine.store.flush()
    await clock.set(T0 + 3600)  # the hub was down for an hour: 1 countdown, 12 ticks missed
    async with make_env(tmp_path, clock, values={"heater": {"power": True}}) as env:
        await wait_for(lambda: env.traces("hold") and env.traces("tick"))
        await settle()
        assert [n.message for n in env.sink.notices].count("late") == fires
        assert [n.message for n in env.sink.notices].count("tick") == fires
        late = [t for t in env.traces("hold") if t["result"] in ("done", "skipped")]
        assert len(late) == 1
        # The schedule continues from now, not from the missed due times.
        await env.advance(300)
        await wait_for(lambda: [n.message for n in env.sink.notices].count("tick") == fires + 1)


async def test_delay_survives_restart_and_counts_as_running(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    rule = {
        "id": "later",
        "triggers": [{"type": "event", "name": "go"}],
        "actions": [
            {"type": "notify", "message": "before"},
            {"type": "delay", "for": "5m"},
            {"type": "notify", "message": "after"},
        ],
    }
    async with make_env(tmp_path, clock) as env:
        await env.rule(rule)
        await env.client.post("/api/v1/events/go", json={})
        await wait_for(lambda: len(env.sink.notices) == 1)
        await wait_for(lambda: any(t.kind == "delay" for t, _ in env.engine.wheel.armed.values()))
        await env.advance(120)
        await env.engine.store.flush()
    async with make_env(tmp_path, clock) as env:
        await env.client.post("/api/v1/events/go", json={})  # mode single: still running
        await settle()
        assert env.traces("later")[-1]["result"] == "skipped"
        await env.advance(179)
        assert env.sink.notices == []
        await env.advance(1)
        await wait_for(lambda: [n.message for n in env.sink.notices] == ["after"])
        done = [t for t in env.traces("later") if t["result"] == "done"]
        assert len(done) == 1
        assert [s["type"] for s in done[0]["steps"]] == ["notify", "delay", "notify"]
        assert done[0]["steps"][1]["until"] == T0 + 300


async def test_wait_survives_restart(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    rule = {
        "id": "w",
        "triggers": [{"type": "event", "name": "go"}],
        "actions": [
            {
                "type": "wait",
                "until": {"type": "state", "device": "door", "property": "contact", "is": False},
                "timeout": "10m",
            },
            {"type": "notify", "message": "closed"},
        ],
    }
    opened = {"door": {"contact": True}}
    async with make_env(tmp_path, clock, values=opened) as env:
        await env.rule(rule)
        await env.client.post("/api/v1/events/go", json={})
        await wait_for(lambda: any(t.kind == "wait" for t, _ in env.engine.wheel.armed.values()))
        await env.advance(60)
        await env.engine.store.flush()
    async with make_env(tmp_path, clock, values=opened) as env:
        assert env.sink.notices == []
        await env.sense("door", contact=False)
        await wait_for(lambda: [n.message for n in env.sink.notices] == ["closed"])
        done = [t for t in env.traces("w") if t["result"] == "done"]
        assert len(done) == 1
        assert done[0]["steps"][0]["result"] == "condition met"
        await env.advance(3600)  # the timeout never fires after the condition was met
        await settle()
        assert len(env.sink.notices) == 1


async def test_reminders_missed_while_down_count_against_max(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    rule = {
        "id": "door",
        "triggers": [{"type": "state", "device": "door", "property": "contact", "to": True}],
        "actions": [{"type": "remind", "message": "open", "every": "5m", "max": 3}],
    }
    opened = {"door": {"contact": True}}
    async with make_env(tmp_path, clock) as env:
        await env.rule(rule)
        await env.sense("door", contact=True)
        await wait_for(lambda: any(t.kind == "remind" for t, _ in env.engine.wheel.armed.values()))
        t0 = env.traces("door")[0]["trigger"]["ts"]
        await env.advance(240)
        await env.engine.store.flush()
    await clock.set(t0 + 720)  # down from t0+4m to t0+12m: the t0+5m and t0+10m ones are missed
    async with make_env(tmp_path, clock, values=opened) as env:
        await wait_for(lambda: len(env.sink.notices) == 1)  # fire_once: one late reminder
        await env.advance(179)
        await settle()
        assert len(env.sink.notices) == 1
        await env.advance(1)  # t0+15m: the third and last slot
        await wait_for(lambda: len(env.sink.notices) == 2)
        await env.advance(3600)
        await settle()
        assert len(env.sink.notices) == 2
        dues = [t["timer"]["due"] for t in env.traces("door") if t.get("timer")]
        assert dues == [t0 + 300, t0 + 900]


def test_public_names_exist() -> None:
    import hub.rules

    for name in hub.rules.__all__:
        assert getattr(hub.rules, name) is not None


async def test_stored_traces_follow_the_kept_ones_as_old_ones_age_out(tmp_path: Path) -> None:
    """Rows written by one flush and aged out by a later one are deleted; another rule's
    rows stay."""
    import sqlite3

    def stored(rule_id: str) -> list[int]:
        with sqlite3.connect(tmp_path / "homehub.db") as conn:
            rows = conn.execute(
                "SELECT seq FROM rule_traces WHERE rule_id=? ORDER BY seq", (rule_id,)
            ).fetchall()
        return [r[0] for r in rows]

    async with make_env(tmp_path) as env:
        for rid in ("a", "b"):
            await env.rule(
                {
                    "id": rid,
                    "mode": "parallel",
                    "max_runs": 25,
                    "triggers": [{"type": "event", "name": rid}],
                    "actions": [{"type": "notify", "message": rid}],
                }
            )

        async def fire(rid: str, times: int) -> None:
            for _ in range(times):
                await env.client.post(f"/api/v1/events/{rid}", json={})
            await wait_for(
                lambda: sum(n.message == rid for n in env.sink.notices) >= fires[rid] + times
            )
            fires[rid] += times
            await wait_for(lambda: all(t["result"] == "done" for t in env.traces(rid)))
            await env.engine.flush_traces()

        fires = {"a": 0, "b": 0}
        await fire("a", 12)
        await fire("b", 3)
        first_b = stored("b")
        assert len(stored("a")) == 12 and len(first_b) == 3
        await fire("a", 12)  # 24 runs of a: its 4 oldest rows age out
        kept = [t["seq"] for t in env.traces("a")]
        assert len(kept) == 20
        assert stored("a") == kept
        assert stored("b") == first_b
        await fire("a", 10)
        await fire("a", 10)  # every row written before is gone now
        assert stored("a") == [t["seq"] for t in env.traces("a")]
        assert not set(stored("a")) & set(kept)
        assert stored("b") == first_b


async def test_a_deleted_rules_run_is_not_stored_under_the_rule_made_again(
    tmp_path: Path,
) -> None:
    """A run cancelled by deleting its rule changes its trace after the rule is gone; once a
    rule with the same id is made again, only the new rule's traces are stored under it."""
    import sqlite3

    clock = ManualClock(T0)
    paused = {
        "id": "again",
        "triggers": [{"type": "event", "name": "go"}],
        "actions": [{"type": "delay", "for": "5m"}, {"type": "notify", "message": "late"}],
    }
    async with make_env(tmp_path, clock) as env:
        await env.rule(paused)
        await env.client.post("/api/v1/events/go", json={})
        await wait_for(lambda: any(t.kind == "delay" for t, _ in env.engine.wheel.armed.values()))
        await env.engine.flush_traces()
        old = env.traces("again")[-1]
        assert old["result"] == "running"
        assert (await env.client.delete("/api/v1/rules/again")).status_code == 204
        assert old["result"] == "cancelled"  # changed after its rule was deleted
        await env.rule({**paused, "actions": [{"type": "notify", "message": "now"}]})
        await env.client.post("/api/v1/events/go", json={})
        await wait_for(lambda: [n.message for n in env.sink.notices] == ["now"])
        await wait_for(lambda: env.traces("again")[-1]["result"] == "done")
        new = [t["seq"] for t in env.traces("again")]
        await env.engine.flush_traces()
        with sqlite3.connect(tmp_path / "homehub.db") as conn:
            rows = conn.execute(
                "SELECT seq FROM rule_traces WHERE rule_id='again' ORDER BY seq"
            ).fetchall()
        assert [r[0] for r in rows] == new
        assert old["seq"] not in new


async def test_traces_whose_write_failed_or_was_cut_by_a_stop_are_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed trace write is retried by the next flush, and one under way when the hub stops
    is written by the stop's own flush: either way the traces are there after a restart."""
    import sqlite3

    import hub.rules.traces

    def stored() -> list[str]:
        with sqlite3.connect(tmp_path / "homehub.db") as conn:
            try:
                rows = conn.execute("SELECT doc FROM rule_traces WHERE rule_id='w'").fetchall()
            except sqlite3.OperationalError:  # renamed away for the moment
                return []
        return [json.loads(doc)["run_id"] for (doc,) in rows]

    monkeypatch.setattr(hub.rules.traces, "TRACE_FLUSH_S", 0.01)
    # An event action: its runs never touch the database, which the test holds locked.
    rule = {
        "id": "w",
        "triggers": [{"type": "event", "name": "x"}],
        "actions": [{"type": "event", "name": "y"}],
    }

    def fire(env: Env) -> None:
        env.rh.hub.bus.publish(NamedEvent(env.clock.now(), "x", {}))

    async with make_env(tmp_path) as env:
        await env.rule(rule)
        db = env.rh.hub.db
        await db.execute("ALTER TABLE rule_traces RENAME TO rule_traces_away")
        fire(env)
        await wait_for(lambda: "writing rule traces failed" in caplog.text)
        await db.execute("ALTER TABLE rule_traces_away RENAME TO rule_traces")
        first = env.traces("w")[0]["run_id"]
        await wait_for(lambda: stored() == [first])  # the periodic writer tried again
        writer = env.engine._flusher
        assert writer is not None
        async with db._write_lock:  # every write waits here, holding what it took
            fire(env)
            await wait_for(lambda: [t["result"] for t in env.traces("w")] == ["done", "done"])
            await wait_for(lambda: not env.engine.trace_book._dirty)  # the writer took them
            writer.cancel()  # as the engine's stop does, before its own last flush
            for _ in range(5):
                await asyncio.sleep(0)
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        kept = [t["run_id"] for t in env.traces("w")]
        # Leaving the block stops the hub: its last flush must write the cut write's traces.
    async with make_env(tmp_path) as env:
        after = (await env.client.get("/api/v1/rules/w/traces")).json()["traces"]
        assert [t["run_id"] for t in reversed(after)] == kept


async def test_traces_persist_across_restart_last_20(tmp_path: Path) -> None:
    import sqlite3

    clock = ManualClock(T0)
    rule = {
        "id": "t",
        "mode": "parallel",
        # Each notify commits its inbox entry before it returns: all 25 may overlap.
        "max_runs": 25,
        "triggers": [{"type": "event", "name": "x"}],
        "actions": [{"type": "notify", "message": "m"}],
    }
    async with make_env(tmp_path, clock) as env:
        await env.rule(rule)
        for _ in range(25):
            await env.client.post("/api/v1/events/x", json={})
        await wait_for(lambda: len(env.sink.notices) == 25)
        await wait_for(lambda: all(t["result"] == "done" for t in env.traces("t")))
        await env.engine.flush_traces()
        before = [t["run_id"] for t in env.traces("t")]
    assert len(before) == 20
    with sqlite3.connect(tmp_path / "homehub.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM rule_traces").fetchone()[0] == 20
    async with make_env(tmp_path, clock) as env:
        after = (await env.client.get("/api/v1/rules/t/traces")).json()["traces"]
        assert [t["run_id"] for t in reversed(after)] == before
        assert all(t["result"] == "done" for t in after)
