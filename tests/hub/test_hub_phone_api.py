"""What the phone app asks of the hub, as the app asks it: a paired browser (cookie + CSRF) on
the LAN, and a relay account through the relay's proxy and event stream. Rules on and off with
their last run, scenes, presence (with the home's location and radius) that fires presence
rules, and the notifications inbox with its live events through the tunnel."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from hub.relay_link import ReconnectLogic, RelayLink
from hub.rules import RulesEngine
from hub.testing import RunningHub, eventually, running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices
from relay import RelayConfig, RelayServer

PASSWORD = "correct horse battery"
AWAY_RULE = {
    "id": "aiko_left",
    "name": "Aiko left",
    "triggers": [{"type": "presence", "person": "aiko", "to": "away"}],
    "actions": [
        {"type": "set", "device": "virtual-lamp", "values": {"power": False}},
        {"type": "notify", "title": "Aiko", "message": "Aiko left; the lamp is off"},
    ],
}
SCENE = {"devices": {"virtual-lamp": {"power": True, "brightness": 40}}}


@contextlib.asynccontextmanager
async def home(
    tmp_path: Path, **config: Any
) -> AsyncIterator[tuple[RunningHub, VirtualIntegration]]:
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], config=config, components=[RulesEngine()]) as rh:
        await rh.hub.wait_integrations()
        assert (await rh.client.post("/api/v1/rules", json=AWAY_RULE)).status_code == 201
        assert (await rh.client.put("/api/v1/scenes/evening", json=SCENE)).status_code == 200
        yield rh, virtual


class Browser:
    """The hub-served app: paired with a code, an HttpOnly cookie, the CSRF token in memory."""

    def __init__(self, rh: RunningHub) -> None:
        self.rh = rh
        self.http = httpx.AsyncClient(base_url=rh.url, timeout=10.0)
        self.csrf = ""

    async def pair(self) -> None:
        code = await self.rh.hub.auth.create_pairing_code()
        r = await self.http.post(
            "/api/v1/pair", json={"code": code, "client_name": "phone app", "cookie": True}
        )
        assert r.status_code == 201, r.text
        self.csrf = r.json()["csrf"]

    async def call(self, method: str, tail: str, body: Any = None, csrf: bool = True) -> Any:
        headers = {"Origin": self.rh.url}
        if csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        return await self.http.request(method, f"/api/v1/{tail}", json=body, headers=headers)


async def test_paired_phone_runs_scenes_switches_rules_and_sets_presence(tmp_path: Path) -> None:
    async with home(tmp_path, latitude=35.68, longitude=139.69, home_radius_m=300.0) as (
        rh,
        virtual,
    ):
        phone = Browser(rh)
        try:
            await phone.pair()
            # The home's position and radius, for the browser's geolocation.
            r = await phone.call("GET", "presence")
            assert r.status_code == 200, r.text
            assert r.json() == {
                "people": {},
                "anyone_home": False,
                "home_location": {"latitude": 35.68, "longitude": 139.69, "radius_m": 300.0},
            }

            # Scenes: listed and run.
            r = await phone.call("GET", "scenes")
            assert [s["name"] for s in r.json()["scenes"]] == ["evening"]
            r = await phone.call("POST", "scenes/evening/run")
            assert r.status_code == 202, r.text
            await eventually(
                lambda: virtual.devices["virtual-lamp"].values["power"] is True, "lamp on"
            )
            # A page of another site cannot (no CSRF token).
            r = await phone.call("POST", "scenes/evening/run", csrf=False)
            assert r.status_code == 403

            # Rules: listed with on/off and last run; switched off and on.
            r = await phone.call("GET", "rules")
            [rule] = r.json()["rules"]
            assert (rule["id"], rule["enabled"], rule["last_run"]) == ("aiko_left", True, None)
            r = await phone.call("POST", "rules/aiko_left/disable")
            assert (r.status_code, r.json()["enabled"]) == (200, False)
            r = await phone.call("POST", "presence", {"person": "aiko", "home": True})
            assert r.status_code == 200, r.text
            r = await phone.call("POST", "presence", {"person": "aiko", "home": False})
            assert r.json() == {"person": "aiko", "home": False}
            r = await phone.call("GET", "notifications?state=open")
            assert r.json()["notifications"] == []  # off: it did not fire
            assert virtual.devices["virtual-lamp"].values["power"] is True
            r = await phone.call("POST", "rules/aiko_left/enable")
            assert (r.status_code, r.json()["enabled"]) == (200, True)

            # A presence rule fires when a phone says its person left.
            await phone.call("POST", "presence", {"person": "aiko", "home": True})
            r = await phone.call("POST", "presence", {"person": "aiko", "home": False})
            assert r.status_code == 200
            await eventually(
                lambda: virtual.devices["virtual-lamp"].values["power"] is False, "lamp off"
            )

            async def note() -> Any:
                got = (await phone.call("GET", "notifications?state=open")).json()
                return got["notifications"]

            [entry] = await eventually(note, "the rule's notification in the inbox")
            assert (entry["title"], entry["kind"], entry["rule_id"]) == (
                "Aiko",
                "alert",
                "aiko_left",
            )
            r = await phone.call("GET", "presence")
            assert r.json()["people"]["aiko"]["home"] is False
            assert r.json()["anyone_home"] is False

            [rule] = (await phone.call("GET", "rules")).json()["rules"]
            assert rule["last_run"]["ok"] is True
            assert rule["last_run"]["result"] in ("running", "done")

            r = await phone.call("POST", f"notifications/{entry['id']}/resolve")
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "resolved"
            r = await phone.call("GET", "notifications?state=open")
            assert r.json() == {"notifications": [], "next_before": None, "open": 0}

            # Presence bodies are checked: `home` is a JSON boolean.
            r = await phone.call("POST", "presence", {"person": "aiko", "home": "yes"})
            assert r.status_code == 422
        finally:
            await phone.http.aclose()


async def test_no_location_configured_means_no_home_location(tmp_path: Path) -> None:
    async with home(tmp_path) as (rh, _):
        r = await rh.client.get("/api/v1/presence")
        assert "home_location" not in r.json()


async def test_openapi_documents_the_phone_routes(tmp_path: Path) -> None:
    from openapi_spec_validator import validate

    async with home(tmp_path) as (rh, _):
        doc = (await rh.client.get("/api/v1/openapi.json")).json()
    validate(doc)
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/{notification_id}", "get"),
        ("/api/v1/notifications/{notification_id}/resolve", "post"),
        ("/api/v1/rules/{rule_id}/enable", "post"),
        ("/api/v1/scenes/{name}/run", "post"),
        ("/api/v1/presence", "post"),
    ]:
        assert method in paths[path], path
    query = {p["name"] for p in paths["/api/v1/notifications"]["get"]["parameters"]}
    assert query == {"state", "limit", "before"}


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[RelayServer]:
    server = RelayServer(
        RelayConfig(
            data_dir=tmp_path / "relay",
            port=0,
            heartbeat_s=1.0,
            shadow_flush_s=0.05,
            new_hubs_per_address_per_min=1e6,
        )
    )
    await server.start()
    try:
        await server.create_account("aiko@example.org", PASSWORD)
        yield server
    finally:
        await server.stop()


async def test_through_the_relay_the_inbox_and_its_events_reach_the_phone(
    tmp_path: Path, relay: RelayServer
) -> None:
    virtual = VirtualIntegration(demo_devices())
    link = RelayLink(relay.url, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5))
    async with running_hub(tmp_path / "hub", [virtual], components=[RulesEngine(), link]) as rh:
        await rh.hub.wait_integrations()
        await link.wait_connected(15)
        await rh.client.post("/api/v1/rules", json=AWAY_RULE)
        await rh.client.put("/api/v1/scenes/evening", json=SCENE)
        code = (await rh.client.post("/api/v1/relay/claim-code")).json()["code"]
        async with httpx.AsyncClient(base_url=relay.url, timeout=15.0) as phone:
            r = await phone.post(
                "/v1/sessions", json={"email": "aiko@example.org", "password": PASSWORD}
            )
            token = r.json()["token"]
            account = r.json()["account_id"]
            phone.headers["Authorization"] = f"Bearer {token}"
            r = await phone.post("/v1/hubs/claim", json={"code": code})
            assert r.status_code == 201, r.text
            hub_id = r.json()["hub_id"]
            api = f"/v1/hubs/{hub_id}/api"
            url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws,
            ):

                async def next_of(kind: str) -> dict[str, Any]:
                    while True:
                        event = json.loads((await ws.receive(timeout=10)).data)
                        if event.get("type") == kind:
                            return dict(event)

                assert (await phone.post(f"{api}/scenes/evening/run")).status_code == 202
                r = await phone.post(f"{api}/rules/aiko_left/disable")
                assert r.json()["enabled"] is False
                r = await phone.post(f"{api}/rules/aiko_left/enable")
                assert r.json()["enabled"] is True
                for at_home in (True, False):
                    r = await phone.post(
                        f"{api}/presence", json={"person": "aiko", "home": at_home}
                    )
                    assert r.status_code == 200, r.text
                presence = await next_of("presence_changed")
                assert (presence["person"], presence["home"]) == ("aiko", True)

                sent = await next_of("notification")
                assert (sent["kind"], sent["title"], sent["rule_id"], sent["count"]) == (
                    "alert",
                    "Aiko",
                    "aiko_left",
                    1,
                )
                r = await phone.get(f"{api}/notifications", params={"state": "open"})
                assert [n["id"] for n in r.json()["notifications"]] == [sent["id"]]
                r = await phone.post(f"{api}/notifications/{sent['id']}/resolve")
                assert r.status_code == 200, r.text
                resolved = await next_of("notification_resolved")
                assert resolved["id"] == sent["id"]
                assert resolved["resolved_by"] == f"relay:{account}"
                r = await phone.post(f"{api}/notifications/ntf_missing/resolve")
                assert r.status_code == 404
                assert "no notification 'ntf_missing'" in r.json()["error"]["message"]
                rules = (await phone.get(f"{api}/rules")).json()["rules"]
                assert rules[0]["last_run"]["ok"] is True


RING = {
    "id": "ring",
    "triggers": [{"type": "event", "name": "ring"}],
    "actions": [{"type": "notify", "title": "Bell", "message": "someone rang"}],
}


async def test_notifications_sent_while_the_link_was_down_reach_the_phone_once(
    tmp_path: Path, relay: RelayServer
) -> None:
    from hub.relay_link.component import NOTIFIED_KEY

    virtual = VirtualIntegration(demo_devices())
    link = RelayLink(relay.url, reconnect=ReconnectLogic(base_s=0.05, cap_s=0.5))
    async with running_hub(tmp_path / "hub", [virtual], components=[RulesEngine(), link]) as rh:
        await rh.hub.wait_integrations()
        await link.wait_connected(15)
        client = link.client
        assert client is not None
        await rh.client.post("/api/v1/rules", json=RING)
        code = (await rh.client.post("/api/v1/relay/claim-code")).json()["code"]
        async with httpx.AsyncClient(base_url=relay.url, timeout=15.0) as phone:
            r = await phone.post(
                "/v1/sessions", json={"email": "aiko@example.org", "password": PASSWORD}
            )
            token = r.json()["token"]
            phone.headers["Authorization"] = f"Bearer {token}"
            hub_id = (await phone.post("/v1/hubs/claim", json={"code": code})).json()["hub_id"]
            url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}) as ws,
            ):

                async def notifications(count: int) -> list[dict[str, Any]]:
                    out = []
                    while len(out) < count:
                        event = json.loads((await ws.receive(timeout=10)).data)
                        if event.get("type") == "notification":
                            out.append(event)
                    return out

                async def ring(count: int) -> str:
                    """Ring the bell and return the id of the inbox entry it made (the
                    count-th): waiting for the count, not for any entry, so an older entry
                    is never taken for the new one."""
                    await rh.client.post("/api/v1/events/ring", json={})
                    page = await eventually(
                        lambda: _entries(rh, count), f"inbox entry {count}"
                    )
                    return str(page[0]["id"])

                first = await ring(1)
                assert [e["id"] for e in await notifications(1)] == [first]

                # The internet goes away; the bell rings twice.
                await client.stop()
                await eventually(lambda: hub_id not in relay.sessions, "the hub offline")
                missed = [await ring(2), await ring(3)]
                client.start()
                got = await notifications(2)
                assert [e["id"] for e in got] == missed  # oldest first
                assert all((e["title"], e["kind"]) == ("Bell", "alert") for e in got)

                # Another reconnect replays nothing: the next event is the next ring.
                sessions = client.sessions
                await client.stop()
                client.start()
                await eventually(lambda: client.sessions > sessions and client.connected, "back")
                await link.wait_connected(15)
                latest = await ring(4)
                assert [e["id"] for e in await notifications(1)] == [latest]
        # The mark is saved once the frame is out, so it may trail the phone by a moment
        # (CI saw "3" just after the phone had the fourth).
        newest = str(await rh.hub.notifications.latest_version())

        async def marked() -> bool:
            return await rh.hub.db.get_kv(NOTIFIED_KEY) == newest

        await eventually(marked, f"the relay's notification mark at {newest}")


async def _entries(rh: RunningHub, count: int) -> list[dict[str, Any]] | None:
    page = (await rh.client.get("/api/v1/notifications")).json()["notifications"]
    return page if len(page) >= count else None
