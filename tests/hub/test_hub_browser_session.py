"""The web app's browser session on the hub's LAN port: cookie pairing, CSRF and Origin checks,
the events WebSocket with the cookie, and signing out, over real HTTP against a real hub."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import httpx
import pytest
from openapi_spec_validator import validate

from hub.testing import RunningHub, running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices

COOKIE = "homehub_session"


@pytest.fixture
async def rh(tmp_path: Path):
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual]) as running:
        await running.hub.wait_integrations()
        yield running


def _browser(rh: RunningHub) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=rh.url, timeout=10.0)


async def _pair(rh: RunningHub, browser: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """Pair `browser` like the web app does: (the body, the raw Set-Cookie header)."""
    code = await rh.hub.auth.create_pairing_code()
    r = await browser.post(
        "/api/v1/pair", json={"code": code, "client_name": "phone browser", "cookie": True}
    )
    assert r.status_code == 201, r.text
    return r.json(), r.headers["set-cookie"]


def _origin(rh: RunningHub) -> str:
    return rh.url  # http://127.0.0.1:<port>: what a page served by the hub sends


async def test_cookie_pairing_sets_httponly_cookie_and_hides_token(rh: RunningHub) -> None:
    async with _browser(rh) as browser:
        body, set_cookie = await _pair(rh, browser)
        assert set(body) == {"hub_id", "token_id", "csrf"}
        assert body["hub_id"] == rh.hub.hub_id
        attrs = [a.strip().lower() for a in set_cookie.split(";")]
        assert attrs[0].startswith(f"{COOKIE}=hh_")
        assert "httponly" in attrs
        assert "samesite=strict" in attrs
        assert "path=/" in attrs
        assert "secure" not in attrs  # plain HTTP on loopback: a Secure cookie would be dropped
        token = browser.cookies[COOKIE]
        assert token not in str(body)
        # The cookie alone authenticates reads ...
        r = await browser.get("/api/v1/devices")
        assert r.status_code == 200
        assert len(r.json()["devices"]) == 3
        # ... and the session endpoint repeats what pairing said.
        r = await browser.get("/api/v1/session")
        assert r.status_code == 200
        assert r.json() == body
        listed = (await rh.client.get("/api/v1/tokens")).json()["tokens"]
        names = {t["id"]: t["name"] for t in listed}
        assert names[body["token_id"]] == "phone browser"


async def test_wrong_code_sets_no_cookie(rh: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=rh.url) as browser:
        r = await browser.post(
            "/api/v1/pair", json={"code": "AAAA-BBBB", "client_name": "x", "cookie": True}
        )
        assert r.status_code == 401
        assert "set-cookie" not in r.headers
        assert (await browser.get("/api/v1/session")).status_code == 401


async def test_cookie_writes_need_the_csrf_header(rh: RunningHub) -> None:
    async with _browser(rh) as browser:
        body, _ = await _pair(rh, browser)
        device_id = next(iter(rh.hub.registry.devices))
        for headers in ({}, {"X-CSRF-Token": "0" * 32}):
            r = await browser.patch(
                f"/api/v1/devices/{device_id}", json={"name": "Hijacked"}, headers=headers
            )
            assert r.status_code == 403, r.text
            assert "X-CSRF-Token" in r.json()["error"]["message"]
        assert rh.hub.registry.devices[device_id].name != "Hijacked"
        r = await browser.patch(
            f"/api/v1/devices/{device_id}",
            json={"name": "Lounge lamp"},
            headers={"X-CSRF-Token": body["csrf"], "Origin": _origin(rh)},
        )
        assert r.status_code == 200, r.text
        assert rh.hub.registry.devices[device_id].name == "Lounge lamp"


async def test_cookie_requests_from_another_origin_are_refused(rh: RunningHub) -> None:
    async with _browser(rh) as browser:
        body, _ = await _pair(rh, browser)
        evil = {"Origin": "http://evil.example", "X-CSRF-Token": body["csrf"]}
        r = await browser.get("/api/v1/devices", headers=evil)
        assert r.status_code == 403
        assert "evil.example" in r.json()["error"]["message"]
        r = await browser.post("/api/v1/events/door", json={}, headers=evil)
        assert r.status_code == 403
        r = await browser.get("/api/v1/devices", headers={"Origin": _origin(rh)})
        assert r.status_code == 200
    # Another site's page cannot make the browser pair either.
    code = await rh.hub.auth.create_pairing_code()
    async with httpx.AsyncClient(base_url=rh.url) as other:
        r = await other.post(
            "/api/v1/pair",
            json={"code": code, "client_name": "x", "cookie": True},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403
        assert "set-cookie" not in r.headers


async def test_bearer_clients_ignore_the_cookie(rh: RunningHub) -> None:
    """The TUI and scripts send a token; a cookie beside it changes nothing (no CSRF needed)."""
    async with httpx.AsyncClient(
        base_url=rh.url,
        headers={"Authorization": f"Bearer {rh.token}"},
        cookies={COOKIE: "hh_stale"},
    ) as client:
        r = await client.post("/api/v1/events/door", json={})
        assert r.status_code == 202
        r = await client.get("/api/v1/session")
        assert r.status_code == 401
        assert "no browser session" in r.json()["error"]["message"]


async def test_stale_cookie_does_not_block_pairing_again(rh: RunningHub) -> None:
    code = await rh.hub.auth.create_pairing_code()
    async with httpx.AsyncClient(base_url=rh.url, cookies={COOKIE: "hh_revoked"}) as browser:
        r = await browser.get("/api/v1/devices")
        assert r.status_code == 401
        assert "pair again" in r.json()["error"]["message"]
        r = await browser.post(
            "/api/v1/pair", json={"code": code, "client_name": "again", "cookie": True}
        )
        assert r.status_code == 201, r.text
        assert (await browser.get("/api/v1/devices")).status_code == 200


async def test_events_websocket_accepts_the_cookie_from_its_own_origin(rh: RunningHub) -> None:
    async with _browser(rh) as browser:
        await _pair(rh, browser)
        token = browser.cookies[COOKIE]
    ws_url = rh.url.replace("http", "ws") + "/api/v1/events"
    cookie = {"Cookie": f"{COOKIE}={token}"}
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, headers={**cookie, "Origin": _origin(rh)}) as ws:
            hello = await ws.receive_json(timeout=10)
            assert hello == {"type": "hello", "hub_id": rh.hub.hub_id}
            await rh.client.post("/api/v1/events/doorbell", json={"data": {"n": 1}})
            msg = await ws.receive_json(timeout=10)
            assert msg["type"] == "named_event" and msg["name"] == "doorbell"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(ws_url, headers={**cookie, "Origin": "http://evil.example"})
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
            await session.ws_connect(ws_url, headers={"Origin": _origin(rh)})
        assert anonymous.value.status == 401


async def test_sign_out_revokes_the_token_and_clears_the_cookie(rh: RunningHub) -> None:
    async with _browser(rh) as browser:
        body, _ = await _pair(rh, browser)
        token = browser.cookies[COOKIE]
        r = await browser.delete("/api/v1/session")
        assert r.status_code == 403  # signing out is a write: CSRF applies
        r = await browser.delete("/api/v1/session", headers={"X-CSRF-Token": body["csrf"]})
        assert r.status_code == 204
        cleared = r.headers["set-cookie"].lower()
        assert cleared.startswith(f"{COOKIE}=") and "max-age=0" in cleared
        assert COOKIE not in browser.cookies
        assert (await browser.get("/api/v1/session")).status_code == 401
    # The token itself is revoked: a copy of the old cookie is worthless.
    async with httpx.AsyncClient(base_url=rh.url, cookies={COOKIE: token}) as copy:
        r = await copy.get("/api/v1/devices")
        assert r.status_code == 401
    tokens = (await rh.client.get("/api/v1/tokens")).json()["tokens"]
    assert any(t["id"] == body["token_id"] and t["revoked"] for t in tokens)


async def test_openapi_describes_the_session(rh: RunningHub) -> None:
    doc = (await rh.client.get("/api/v1/openapi.json")).json()
    validate(doc)
    session = doc["paths"]["/api/v1/session"]
    assert set(session) == {"get", "delete"}
    assert {"bearer": []} in session["get"]["security"]
    assert {"session": []} in session["get"]["security"]
    assert doc["components"]["securitySchemes"]["session"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
    }
    pair = doc["components"]["schemas"]["PairRequest"]
    assert pair["properties"]["cookie"]["type"] == "boolean"
    assert "201" in doc["paths"]["/api/v1/pair"]["post"]["responses"]


async def test_hub_serves_the_web_app_in_hub_mode(rh: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=rh.url) as browser:
        r = await browser.get("/")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "<html" in r.text.lower()
        r = await browser.get("/app-config.json")
        assert r.json()["mode"] == "hub"
        # The API keeps its JSON errors beside the app.
        r = await browser.get("/api/v1/no-such-thing")
        assert r.status_code == 404
        assert "openapi.json" in r.json()["error"]["message"]
