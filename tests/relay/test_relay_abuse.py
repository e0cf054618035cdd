"""Hostile bodies and stale sessions against real relay nodes (issue 12, points 8 and 9)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
from cluster_services import REDIS_URL, fresh_database, fresh_redis_prefix
from relay_testkit import PASSWORD, Phone, eventually, running_relay, table_rows

from hub.relay_link import HubIdentity, TunnelClient
from relay import protocol as p
from relay.login_guard import LoginGate

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB, depth 1,000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
async def test_deeply_nested_json_is_a_400_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_relay(tmp_path / "relay", allow_signup=True) as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        phone = await Phone.login(relay.url, "alice@example.org")
        try:
            anonymous = httpx.AsyncClient(base_url=relay.url)
            for client, path in [
                (anonymous, "/v1/sessions"),
                (anonymous, "/v1/accounts"),
                (phone.client, "/v1/hubs/claim"),
            ]:
                r = await client.post(path, content=body)
                assert r.status_code == 400, (path, r.text)
                assert "nested" in r.json()["error"]["message"]
            await anonymous.aclose()
            # The same inside a tunnel frame: the relay closes that tunnel with the reason.
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(relay.tunnel_url)
                challenge = p.decode(await ws.receive_str())
                assert isinstance(challenge, p.Challenge)
                await ws.send_str(b'{"t": "auth", "public_key": '.decode() + body.decode() + "}")
                msg = await asyncio.wait_for(ws.receive(), 10)
                assert msg.type == aiohttp.WSMsgType.CLOSE
                assert "nested" in str(msg.extra)
            assert not [rec for rec in caplog.records if rec.exc_info], caplog.text
            assert (await phone.client.get("/v1/hubs")).status_code == 200
        finally:
            await phone.close()


def test_tunnel_codec_refuses_deep_frames_and_keeps_normal_ones() -> None:
    with pytest.raises(p.JsonTooDeep):
        p.decode(b'{"t": "ping", "ts": ' + DEEP + b"}")
    with pytest.raises(p.JsonTooDeep):
        p.loads_bounded("[" * 70 + "]" * 70)  # parses, but deeper than the limit
    assert p.loads_bounded("[" * 64 + "]" * 64) is not None
    assert p.loads_bounded(
        '{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'
    )
    assert isinstance(p.decode(p.encode(p.Ping(1.0))), p.Ping)


async def test_expired_session_is_refused_at_once(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay", session_ttl_s=2.0) as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        phone = await Phone.login(relay.url, "alice@example.org")
        expires = time.monotonic() + 2.0
        try:
            assert (await phone.client.get("/v1/hubs")).status_code == 200  # now cached
            await asyncio.sleep(max(0.0, expires - time.monotonic()) + 0.3)
            r = await phone.client.get("/v1/hubs")
            assert r.status_code == 401, r.text
            assert "expired" in r.json()["error"]["message"]
        finally:
            await phone.close()


async def test_logout_on_one_node_holds_on_the_others_at_once(tmp_path: Path) -> None:
    async with fresh_database() as store_url, fresh_redis_prefix() as prefix:
        shared = {"store_url": store_url, "routing_url": REDIS_URL, "routing_prefix": prefix}
        async with (
            running_relay(tmp_path / "a", **shared) as node_a,
            running_relay(tmp_path / "b", **shared) as node_b,
        ):
            await node_a.create_account("alice@example.org", PASSWORD)
            phone = await Phone.login(node_a.url, "alice@example.org")
            other = httpx.AsyncClient(
                base_url=node_b.url, headers={"Authorization": f"Bearer {phone.token}"}
            )
            try:
                assert (await other.get("/v1/hubs")).status_code == 200  # node B has seen it
                r = await phone.client.delete("/v1/sessions/current")
                assert r.status_code in (200, 204), r.text
                assert (await other.get("/v1/hubs")).status_code == 401
            finally:
                await other.aclose()
                await phone.close()


async def _login_s(client: httpx.AsyncClient, password: str) -> tuple[int, float]:
    t0 = time.monotonic()
    r = await client.post("/v1/sessions", json={"email": "alice@example.org", "password": password})
    return r.status_code, time.monotonic() - t0


async def test_owner_logs_in_during_a_wrong_password_flood(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay", login_burst=100.0) as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        owner = httpx.AsyncClient(base_url=relay.url, timeout=120)
        baseline = sorted([(await _login_s(owner, PASSWORD))[1] for _ in range(3)])[1]
        answered: set[str] = set()
        stop = asyncio.Event()

        async def guesser(source: str) -> None:
            transport = httpx.AsyncHTTPTransport(local_address=source)
            async with httpx.AsyncClient(
                base_url=relay.url, transport=transport, timeout=120
            ) as client:
                while not stop.is_set():  # one guess after another, always one in line
                    await _login_s(client, "a wrong guess")
                    answered.add(source)

        flood = [asyncio.create_task(guesser(f"127.0.6.{30 + n}")) for n in range(30)]
        try:
            while len(answered) < 30:  # every guesser answered once: the flood is steady
                await asyncio.sleep(0.05)
            status, took = await _login_s(owner, PASSWORD)
        finally:
            stop.set()
            await asyncio.gather(*flood)
            await owner.aclose()
        assert status == 201
        # Behind at most the checks already running, not behind thirty guessers.
        assert took < 6 * baseline + 0.5, (took, baseline)


async def test_repeated_wrong_passwords_slow_that_address_only(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay", login_burst=100.0) as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        relay.accounts.gate = LoginGate(free_failures=3, max_delay_s=2.0)
        guesser = httpx.AsyncClient(
            base_url=relay.url, transport=httpx.AsyncHTTPTransport(local_address="127.0.6.30")
        )
        owner = httpx.AsyncClient(base_url=relay.url)
        try:
            codes = [(await _login_s(guesser, f"guess {n}"))[0] for n in range(4)]
            assert codes[:3] == [401, 401, 401]
            r = await guesser.post(
                "/v1/sessions", json={"email": "alice@example.org", "password": PASSWORD}
            )
            assert r.status_code == 429  # a delay, even for the right password from there ...
            assert "retry in" in r.json()["error"]["message"]
            assert (await _login_s(owner, PASSWORD))[0] == 201  # ... never for the owner
            await asyncio.sleep(2.2)  # and at most max_delay_s long
            assert (await _login_s(guesser, PASSWORD))[0] == 201
        finally:
            await guesser.aclose()
            await owner.aclose()


async def _control(
    session: aiohttp.ClientSession, url: str, source_key: HubIdentity
) -> aiohttp.ClientWebSocketResponse | None:
    ws = await session.ws_connect(url)
    challenge = p.decode(await ws.receive_str())
    assert isinstance(challenge, p.Challenge)
    await ws.send_str(p.encode(source_key.auth(challenge.nonce, "", "", p.PURPOSE_CONTROL)))
    msg = await ws.receive()
    if msg.type != aiohttp.WSMsgType.TEXT:
        return None
    return ws


async def test_new_hub_identities_per_address_are_limited(tmp_path: Path) -> None:
    async with (
        running_relay(tmp_path / "relay", new_hubs_per_address_per_min=5.0) as relay,
        aiohttp.ClientSession() as session,
    ):
        welcomed = []
        for _ in range(8):
            ws = await _control(session, relay.tunnel_url, HubIdentity.generate())
            welcomed.append(ws is not None)
            if ws is not None:
                await ws.close()
        assert welcomed == [True] * 5 + [False] * 3
        # A hub the relay already knows is never refused for its address.
        known = HubIdentity.generate()
        relay.tunnels._new_identities._buckets.clear()
        ws = await _control(session, relay.tunnel_url, known)
        assert ws is not None
        await ws.close()
        await relay.tunnels.write_hub_rows()
        for _ in range(6):  # the allowance is used up by others ...
            await _control(session, relay.tunnel_url, HubIdentity.generate())
        ws = await _control(session, relay.tunnel_url, known)  # ... and it still gets in
        assert ws is not None
        await ws.close()


async def test_a_hub_cannot_make_the_relay_keep_unbounded_data(tmp_path: Path) -> None:
    async with running_relay(
        tmp_path / "relay", max_devices_per_hub=3, max_record_bytes=2000,
        max_claim_codes_per_hub=2, session_ttl_s=0.5,
    ) as relay, aiohttp.ClientSession() as session:  # fmt: skip
        identity = HubIdentity.generate()
        ws = await _control(session, relay.tunnel_url, identity)
        assert ws is not None
        for n in range(10):  # ten claim codes asked for: only the newest two stay valid
            await ws.send_str(p.encode(p.ClaimCodeRequest(n)))
            assert isinstance(p.decode(await ws.receive_str()), p.ClaimCode)
        await ws.close()
        codes = await table_rows(relay, "claim_codes", "hub_id, used_at")
        assert len(codes) == 2

        pushed = asyncio.Event()

        class Pusher:
            async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
                for n in range(5):
                    await client.send(p.ShadowUpdate(f"dev-{n}", 1, {"name": f"device {n}"}))
                await client.send(p.ShadowUpdate("huge", 1, {"name": "x" * 5000}))
                await client.send(p.Ping(1.0))
                pushed.set()

            async def on_request(self, request: p.Request) -> p.Response:
                return p.Response(request.id, 200, {})

            def on_disconnected(self) -> None:
                pass

        client = TunnelClient(relay.url, HubIdentity.generate(), Pusher())
        client.start()
        try:
            await client.wait_connected(15)
            await asyncio.wait_for(pushed.wait(), 15)
            await eventually(
                lambda: relay.shadows._hubs.get(client.relay_hub_id), what="records kept"
            )
            await asyncio.sleep(0.3)
            kept = await relay.shadows.devices(client.relay_hub_id)
            assert sorted(kept) == ["dev-0", "dev-1", "dev-2"]
            assert client.connected  # refused records do not cost the hub its tunnel
        finally:
            await client.stop()

        # Expired sessions are deleted, not kept forever.
        await relay.create_account("alice@example.org", PASSWORD)
        await relay.login("alice@example.org", PASSWORD)
        assert len(await table_rows(relay, "sessions")) == 1
        await asyncio.sleep(0.6)
        await relay.store.purge_expired(time.time())
        assert await table_rows(relay, "sessions") == []


async def test_bearer_scheme_is_case_insensitive_and_405_names_the_methods(tmp_path: Path) -> None:
    # Point 12: RFC 9110 auth schemes are case-insensitive ("bearer" was refused); a wrong
    # method answers 405 with Allow.
    async with running_relay(tmp_path / "relay") as relay:
        await relay.create_account("case@example.org", "a long enough password")
        async with httpx.AsyncClient(base_url=relay.url) as http:
            login = {"email": "case@example.org", "password": "a long enough password"}
            token = (await http.post("/v1/sessions", json=login)).json()["token"]
            for scheme in ("Bearer", "bearer", "BEARER"):
                r = await http.get("/v1/hubs", headers={"Authorization": f"{scheme} {token}"})
                assert r.status_code == 200, scheme
            r = await http.request("TRACE", "/v1/hubs")
            assert r.status_code == 405
            assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
