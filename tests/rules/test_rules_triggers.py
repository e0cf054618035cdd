"""Each trigger type, through the real hub (virtual devices, API, event bus, ManualClock)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rules_env import Env, make_env, wait_for

from hub.clock import ManualClock

NOTIFY = [{"type": "notify", "message": "fired"}]


def done(env: Env, rule_id: str) -> list[dict]:
    return [t for t in env.traces(rule_id) if t["result"] == "done"]


async def test_state_trigger_to_and_from(env: Env) -> None:
    await env.rule(
        {
            "id": "on",
            "triggers": [{"type": "state", "device": "lamp", "property": "power", "to": True}],
            "actions": NOTIFY,
        }
    )
    await env.rule(
        {
            "id": "from_on",
            "triggers": [{"type": "state", "device": "lamp", "property": "brightness", "from": 50}],
            "actions": NOTIFY,
        }
    )
    await env.sense("lamp", power=True)
    await wait_for(lambda: len(done(env, "on")) == 1)
    assert env.traces("on")[0]["trigger"]["value"] is True
    await env.sense("lamp", power=False)
    await env.sense("lamp", brightness=70)
    await env.sense("lamp", brightness=80)  # from 70: does not match `from: 50`
    await wait_for(lambda: len(done(env, "from_on")) == 1)
    # Triggers are judged when the report is published, before sense() returns, and every
    # firing leaves a trace at once: counting all traces needs no waiting to be conclusive.
    assert len(env.traces("on")) == 1
    assert len(env.traces("from_on")) == 1
    assert env.traces("from_on")[0]["trigger"]["previous"] == 50


async def test_numeric_trigger_fires_on_crossing_only(env: Env) -> None:
    await env.rule(
        {
            "id": "hot",
            "triggers": [
                {"type": "numeric", "device": "heater", "property": "temperature", "above": 25}
            ],
            "actions": NOTIFY,
        }
    )
    await env.sense("heater", temperature=24.0)
    await env.sense("heater", temperature=26.0)  # crosses
    await env.sense("heater", temperature=27.0)  # still above: no new firing
    await env.sense("heater", temperature=22.0)
    await wait_for(lambda: len(done(env, "hot")) == 1)  # mode single: let the first run end
    await env.sense("heater", temperature=30.0)  # crosses again
    await wait_for(lambda: len(done(env, "hot")) == 2)
    assert [t["trigger"]["value"] for t in env.traces("hot")] == [26.0, 30.0]


async def test_numeric_trigger_bounds_are_strict(env: Env) -> None:
    """Reaching a bound exactly is not crossing it: the first firing is past the bound."""
    for rule_id, bound in (("hot", {"above": 25}), ("cold", {"below": 10})):
        await env.rule({"id": rule_id, "triggers": [
            {"type": "numeric", "device": "heater", "property": "temperature", **bound}],
            "actions": NOTIFY})
    for reading in (24.0, 25.0, 25.5, 12.0, 10.0, 9.5):
        await env.sense("heater", temperature=reading)
    await wait_for(lambda: len(done(env, "hot")) == 1 and len(done(env, "cold")) == 1)
    # Had 25.0 (or 10.0) counted as inside, the rule would have fired there, and not again
    # at 25.5 (9.5), which is no new crossing.
    assert done(env, "hot")[0]["trigger"]["value"] == 25.5
    assert done(env, "cold")[0]["trigger"]["value"] == 9.5


async def test_numeric_for_fires_after_hold_and_cancels_when_left(env: Env) -> None:
    await env.rule(
        {
            "id": "hot_for",
            "triggers": [
                {
                    "type": "numeric",
                    "device": "heater",
                    "property": "temperature",
                    "above": 25,
                    "for": "10m",
                }
            ],
            "actions": NOTIFY,
        }
    )
    await env.sense("heater", temperature=26.0)
    await env.advance(300)
    await env.sense("heater", temperature=20.0)  # leaves: countdown cancelled
    await env.advance(600)
    assert done(env, "hot_for") == []
    await env.sense("heater", temperature=28.0)
    start = env.clock.now()
    await env.advance(599)
    assert done(env, "hot_for") == []
    await env.sense("heater", temperature=29.0)  # still inside: countdown NOT restarted
    await env.advance(1)
    await wait_for(lambda: len(done(env, "hot_for")) == 1)
    trig = done(env, "hot_for")[0]["trigger"]
    assert trig["since"] == start
    assert trig["ts"] == start + 600
    assert env.sink.notices[0].ts == start + 600


async def test_for_fires_once_per_stretch_and_again_after_the_state_is_left(env: Env) -> None:
    """After a countdown fired, the state's stretch is used up: staying inside (even through
    reports that repeat the value) never fires again; leaving and coming back does."""
    await env.rule(
        {
            "id": "on_for",
            "triggers": [
                {"type": "state", "device": "lamp", "property": "power", "to": True, "for": 60}
            ],
            "actions": NOTIFY,
        }
    )
    await env.sense("lamp", power=True)
    await env.advance(60)
    await wait_for(lambda: len(done(env, "on_for")) == 1)
    await env.sense("lamp", brightness=10)  # another property: the power stretch goes on
    await env.advance(600)
    assert len(env.traces("on_for")) == 1
    await env.sense("lamp", power=False)
    await env.sense("lamp", power=True)
    start = env.clock.now()
    await env.advance(60)
    await wait_for(lambda: len(done(env, "on_for")) == 2)
    assert done(env, "on_for")[-1]["trigger"]["since"] == start


async def test_time_trigger_fires_daily_in_configured_timezone(tmp_path: Path) -> None:
    zone = ZoneInfo("Asia/Tokyo")
    start = datetime(2024, 5, 1, 7, 0, tzinfo=zone).timestamp()
    async with make_env(tmp_path, ManualClock(start), {"timezone": "Asia/Tokyo"}) as env:
        await env.rule(
            {"id": "wake", "triggers": [{"type": "time", "at": "07:30"}], "actions": NOTIFY}
        )
        await env.advance(29 * 60)
        assert done(env, "wake") == []
        await env.advance(60)
        await wait_for(lambda: len(done(env, "wake")) == 1)
        await env.advance(86400)
        await wait_for(lambda: len(done(env, "wake")) == 2)
        fired = [datetime.fromtimestamp(t["trigger"]["ts"], zone) for t in done(env, "wake")]
        assert [(f.day, f.hour, f.minute) for f in fired] == [(1, 7, 30), (2, 7, 30)]


async def test_cron_trigger(env: Env) -> None:
    await env.rule(
        {"id": "q", "triggers": [{"type": "cron", "cron": "*/15 * * * *"}], "actions": NOTIFY}
    )
    for _ in range(8):  # one hour in 7.5 minute steps
        await env.advance(450)
    await wait_for(lambda: len(done(env, "q")) == 4)
    fired_at = [t["trigger"]["ts"] for t in done(env, "q")]
    assert all(ts % 900 == 0 for ts in fired_at)
    assert fired_at == sorted(set(fired_at))


async def test_sunrise_with_offset(tmp_path: Path) -> None:
    from astral import LocationInfo
    from astral.sun import sunrise

    zone = ZoneInfo("Asia/Tokyo")
    start = datetime(2024, 6, 1, 0, 0, tzinfo=zone).timestamp()
    config = {"timezone": "Asia/Tokyo", "latitude": 35.68, "longitude": 139.69}
    async with make_env(tmp_path, ManualClock(start), config) as env:
        await env.rule(
            {
                "id": "dawn",
                "triggers": [{"type": "sun", "event": "sunrise", "offset": "-30m"}],
                "actions": NOTIFY,
            }
        )
        loc = LocationInfo(latitude=35.68, longitude=139.69, timezone="Asia/Tokyo")
        expected = sunrise(loc.observer, datetime(2024, 6, 1).date(), tzinfo=zone).timestamp()
        expected -= 1800
        await env.advance(expected - start - 1)
        assert done(env, "dawn") == []
        await env.advance(2)
        await wait_for(lambda: len(done(env, "dawn")) == 1)
        assert abs(done(env, "dawn")[0]["trigger"]["ts"] - expected) < 1e-3


async def test_sun_trigger_without_location_is_rejected(env: Env) -> None:
    resp = await env.client.post(
        "/api/v1/rules",
        json={"triggers": [{"type": "sun", "event": "sunset"}], "actions": NOTIFY},
    )
    assert resp.status_code == 422
    assert "latitude" in resp.text


async def test_presence_triggers(env: Env) -> None:
    await env.rule(
        {
            "id": "anna_home",
            "triggers": [{"type": "presence", "person": "anna", "to": "home"}],
            "actions": NOTIFY,
        }
    )
    await env.rule(
        {
            "id": "all_away",
            "triggers": [{"type": "presence", "to": "everyone_away"}],
            "actions": NOTIFY,
        }
    )
    c = env.client
    await c.post("/api/v1/presence", json={"person": "anna", "home": True})
    await c.post("/api/v1/presence", json={"person": "ben", "home": True})
    await c.post("/api/v1/presence", json={"person": "anna", "home": False})
    assert env.traces("all_away") == []  # judged before the API answered: no waiting needed
    await c.post("/api/v1/presence", json={"person": "ben", "home": False})
    await wait_for(lambda: len(done(env, "all_away")) == 1)
    assert len(done(env, "anna_home")) == 1
    assert done(env, "all_away")[0]["trigger"]["person"] == "ben"


async def test_availability_trigger(env: Env) -> None:
    await env.rule(
        {
            "id": "gone",
            "triggers": [{"type": "availability", "device": "lamp", "to": "offline"}],
            "actions": NOTIFY,
        }
    )
    await env.rule(
        {
            "id": "back",
            "triggers": [{"type": "availability", "device": "lamp", "to": "online"}],
            "actions": NOTIFY,
        }
    )
    await env.virtual.unplug("lamp")
    await wait_for(lambda: len(done(env, "gone")) == 1)
    assert done(env, "back") == []
    await env.virtual.plug_in("lamp")
    await wait_for(lambda: len(done(env, "back")) == 1)


async def test_named_event_trigger_and_event_action_chain(env: Env) -> None:
    await env.rule(
        {
            "id": "first",
            "triggers": [{"type": "event", "name": "doorbell"}],
            "actions": [{"type": "event", "name": "chime", "data": {"n": 1}}],
        }
    )
    await env.rule(
        {"id": "second", "triggers": [{"type": "event", "name": "chime"}], "actions": NOTIFY}
    )
    resp = await env.client.post("/api/v1/events/doorbell", json={"data": {}})
    assert resp.status_code == 202
    await wait_for(lambda: len(done(env, "second")) == 1)
    assert done(env, "second")[0]["trigger"]["data"] == {"n": 1}


async def test_state_change_touches_only_indexed_rules(env: Env) -> None:
    for i in range(50):
        await env.rule(
            {
                "id": f"r{i}",
                "triggers": [
                    {"type": "state", "device": "lamp", "property": "brightness", "to": i}
                ],
                "actions": NOTIFY,
            }
        )
    index = env.engine.index.state
    assert set(index) == {("lamp", "brightness")}
    assert len(index[("lamp", "brightness")]) == 50
    await env.sense("heater", temperature=30.0)  # no rule references it: nothing runs
    await env.sense("lamp", brightness=7)
    await wait_for(lambda: len(done(env, "r7")) == 1)
    ran = [r for r in env.engine.rules if env.traces(r)]
    assert ran == ["r7"]
    await env.client.post("/api/v1/rules/r7/disable")
    assert len(index[("lamp", "brightness")]) == 49
