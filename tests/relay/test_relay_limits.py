"""Rate limits, in-flight limits and half-open detection on both ends of the tunnel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from relay_testkit import PASSWORD, RELAY_HOST, Phone, eventually, running_relay

from hub.relay_link import HubIdentity, ReconnectLogic, TunnelClient
from relay import protocol as p
from relay.errors import HubBusy
from relay.limits import TokenBucket


class _Gated:
    """A tunnel handler whose answers wait for a gate (a hub stuck on a slow device)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started = 0

    async def on_welcome(self, client: TunnelClient, welcome: p.Welcome) -> None:
        await client.send(p.ResyncDone(()))

    async def on_request(self, request: p.Request) -> p.Response:
        self.started += 1
        if request.path != "/api/v1/health":
            await self.gate.wait()
        return p.Response(request.id, 200, {"ok": True})

    def on_disconnected(self) -> None:
        pass


async def test_in_flight_limit_answers_503_and_other_hubs_are_not_delayed(
    tmp_path: Path, relay_backend: str
) -> None:
    async with running_relay(tmp_path / "relay", max_in_flight=3, request_timeout_s=20) as relay:
        slow_handler, fast_handler = _Gated(), _Gated()
        fast_handler.gate.set()
        slow = TunnelClient(relay.url, HubIdentity.generate(), slow_handler)
        fast = TunnelClient(relay.url, HubIdentity.generate(), fast_handler)
        slow.start()
        fast.start()
        try:
            await slow.wait_connected(15)
            await fast.wait_connected(15)
            routing = relay.routing
            stuck = [
                asyncio.create_task(
                    routing.call(slow.relay_hub_id, p.Request(0, "GET", "/api/v1/rooms"), 20)
                )
                for _ in range(3)
            ]
            await eventually(lambda: slow_handler.started == 3, what="3 requests in flight")
            with pytest.raises(HubBusy, match="in flight") as err:
                await routing.call(slow.relay_hub_id, p.Request(0, "GET", "/api/v1/x"), 20)
            assert err.value.status == 503
            # The other hub answers at once while the slow one is saturated.
            resp = await asyncio.wait_for(
                routing.call(fast.relay_hub_id, p.Request(0, "GET", "/api/v1/rooms"), 20), 5
            )
            assert resp.status == 200
            slow_handler.gate.set()
            assert [r.status for r in await asyncio.gather(*stuck)] == [200, 200, 200]
        finally:
            await slow.stop()
            await fast.stop()


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    """Refill on a manual clock: exact, whatever the machine's load."""
    now = [100.0]
    bucket = TokenBucket(rate=0.5, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(2.0)
    now[0] += 1.9
    assert not bucket.take()  # 0.95 of a token
    now[0] += 0.1
    assert bucket.take() and not bucket.take()
    now[0] += 3600  # a long idle time refills to the burst, no further
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert TokenBucket(rate=0, burst=1, clock=lambda: now[0]).retry_after() == 60.0


async def test_per_account_rate_limit(tmp_path: Path, relay_backend: str) -> None:
    # Refill is all but off here (one token per 1,000 s), so a slow machine cannot refill the
    # bucket mid-test; the refill itself is tested above on a manual clock.
    async with running_relay(tmp_path / "relay", account_rate=0.001, account_burst=5) as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        await relay.create_account("bob@example.org", PASSWORD)
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            codes = [(await alice.client.get("/v1/hubs")).status_code for _ in range(8)]
            assert codes[:5] == [200] * 5
            assert codes[5:] == [429] * 3
            r = await alice.client.get("/v1/hubs")
            assert r.status_code == 429
            assert "Retry-After" in r.headers
            assert "slow down" in r.json()["error"]["message"]
            # Another account is not affected.
            assert (await bob.client.get("/v1/hubs")).status_code == 200
        finally:
            await alice.close()
            await bob.close()


async def test_relay_closes_a_silent_tunnel(tmp_path: Path, relay_backend: str) -> None:
    async with running_relay(tmp_path / "relay", heartbeat_s=0.3) as relay:
        ident = HubIdentity.generate()
        async with aiohttp.ClientSession() as session, session.ws_connect(
            relay.tunnel_url, autoping=False
        ) as ws:
            challenge = p.decode((await ws.receive(timeout=10)).data)
            assert isinstance(challenge, p.Challenge)
            await ws.send_str(p.encode(ident.auth(challenge.nonce, "", "", p.PURPOSE_TUNNEL)))
            assert isinstance(p.decode((await ws.receive(timeout=10)).data), p.Welcome)
            assert ident.relay_hub_id in relay.sessions
            # Now say nothing: a half-open link from the relay's point of view.
            msg = await ws.receive(timeout=15)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == 4003
        await eventually(lambda: ident.relay_hub_id not in relay.sessions)


async def test_hub_detects_a_relay_that_went_silent(tmp_path: Path) -> None:
    connections = 0

    async def mute_relay(request: web.Request) -> web.WebSocketResponse:
        # Completes the handshake, then never answers anything (a frozen relay or a dead NAT).
        nonlocal connections
        connections += 1
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.send_str(p.encode(p.Challenge("n")))
        await ws.receive()
        await ws.send_str(p.encode(p.Welcome("hub_x", 0.2, {})))
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/v1/hub/connect", mute_relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, RELAY_HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    client = TunnelClient(
        f"ws://{RELAY_HOST}:{port}", HubIdentity.generate(), _Gated(),
        reconnect=ReconnectLogic(base_s=0.05, cap_s=0.2),
    )
    client.start()
    try:
        await eventually(lambda: connections >= 2, what="the hub to give up and redial")
        assert "no answer from the relay" in client.last_error
    finally:
        await client.stop()
        await runner.cleanup()


async def test_password_and_claim_code_guessing_is_slowed(
    tmp_path: Path, relay_backend: str
) -> None:
    async with running_relay(tmp_path / "relay") as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        phone = await Phone.login(relay.url, "alice@example.org")
        try:
            codes = []
            for _ in range(12):
                r = await phone.client.post(
                    "/v1/sessions", json={"email": "alice@example.org", "password": "guess1234"}
                )
                codes.append(r.status_code)
            assert set(codes[:9]) == {401}
            assert codes[-1] == 429
            codes = []
            for i in range(12):
                r = await phone.client.post("/v1/hubs/claim", json={"code": f"AAAAA-{i:05d}"})
                codes.append(r.status_code)
            assert set(codes[:10]) == {404}
            assert codes[-1] == 429
        finally:
            await phone.close()
