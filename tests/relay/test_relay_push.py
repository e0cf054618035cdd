"""Web Push from a real relay to a local endpoint that stands in for the push service.

The endpoint records what the relay POSTs; the test then decrypts each body with the
subscription's private key (http_ece, RFC 8291 aes128gcm) and checks the VAPID JWT's signature
against the relay's public key with `cryptography`: independent of pywebpush, which sent them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import stat
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import http_ece
import httpx
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from multidict import CIMultiDict
from relay_testkit import (
    PASSWORD,
    LinkedHub,
    Phone,
    claim_code,
    eventually,
    linked_hub,
    running_relay,
)

from relay import RelayServer

PUSH_HOST = "127.0.6.3"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """What a browser keeps for one push subscription: its key pair and auth secret."""

    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """PushSubscription.toJSON()."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(point), "auth": b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """The push message, as the browser would read it."""
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return dict(json.loads(plain))


@dataclass
class Pushed:
    """One POST the push service got."""

    name: str
    headers: CIMultiDict[str]
    body: bytes
    at: float


class PushService:
    """A local stand-in for the push service: records POSTs; answers per endpoint name."""

    def __init__(self) -> None:
        self.got: list[Pushed] = []
        self.answers: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.url = ""
        self.in_flight = 0
        self.peak = 0  # most POSTs open at once

    def browser(self, name: str) -> Browser:
        return Browser(name, f"{self.url}/push/{name}")

    def of(self, name: str) -> list[Pushed]:
        return [p for p in self.got if p.name == name]

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay.get(name, 0.0))
        finally:
            self.in_flight -= 1
        self.got.append(Pushed(name, request.headers.copy(), await request.read(), time.time()))
        return web.Response(status=self.answers.get(name, 201))


@contextlib.asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    app = web.Application()
    app.router.add_post("/push/{name}", service.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, PUSH_HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    service.url = f"http://{PUSH_HOST}:{port}"
    try:
        yield service
    finally:
        await runner.cleanup()


def check_vapid(pushed: Pushed, public_key: str, audience: str, contact: str) -> None:
    """The Authorization header is `vapid t=<ES256 JWT>, k=<the relay's key>` (RFC 8292)."""
    scheme, _, params = pushed.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert fields["k"] == public_key
    header_b64, claims_b64, sig_b64 = fields["t"].split(".")
    assert json.loads(unb64(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = unb64(sig_b64)
    assert len(signature) == 64  # JOSE: r || s
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64(claims_b64))
    assert claims["aud"] == audience and claims["sub"] == contact
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600  # RFC 8292: at most a day


async def notify(
    hub: LinkedHub, title: str, message: str, nid: str, kind: str = "alert", count: int = 1
) -> None:
    """What a rule's notify/remind action does: an inbox send, which the hub forwards."""
    await hub.rh.hub.notifications.record(
        rule_id="test",
        kind=kind,
        title=title,
        message=message,
        notification_id=nid,
        count=count,
    )


async def _member(owner: Phone, guest: Phone, hub_id: str, email: str) -> None:
    r = await owner.client.post(f"/v1/hubs/{hub_id}/invitations", json={"email": email})
    r = await guest.client.post(f"/v1/invitations/{r.json()['id']}/accept")
    assert r.status_code == 200, r.text


async def test_a_hub_notification_is_pushed_encrypted_to_everyone_in_the_home(
    tmp_path: Path, relay_backend: str
) -> None:
    async with (
        push_service() as service,
        running_relay(tmp_path / "relay", push_allow_insecure_endpoints=True) as relay,
        linked_hub(tmp_path / "hub", relay.url) as hub,
        contextlib.AsyncExitStack() as st,
    ):
        for name in ("alice", "bob", "carol"):
            await relay.create_account(f"{name}@example.org", PASSWORD)
        alice, bob, carol = [
            await Phone.login(relay.url, f"{n}@example.org") for n in ("alice", "bob", "carol")
        ]
        for phone in (alice, bob, carol):
            st.push_async_callback(phone.close)
        hub_id = await alice.claim(await claim_code(hub))
        await _member(alice, bob, hub_id, "bob@example.org")

        public_key = (await carol.client.get("/v1/push/key")).json()["public_key"]
        point = unb64(public_key)
        assert len(point) == 65 and point[0] == 4  # applicationServerKey: uncompressed P-256
        browsers = {n: service.browser(n) for n in ("alice", "alice-gone", "bob", "carol")}
        service.answers["alice-gone"] = 410  # the browser unsubscribed at the push service
        for name, phone in (
            ("alice", alice),
            ("alice-gone", alice),
            ("bob", bob),
            ("carol", carol),
        ):
            r = await phone.client.post(
                "/v1/push/subscriptions", json=browsers[name].subscription()
            )
            assert r.status_code == 201, r.text
            assert r.json() == {"endpoint": browsers[name].endpoint}
        r = await bob.client.post("/v1/push/subscriptions", json=browsers["bob"].subscription())
        assert r.status_code == 200  # the same browser again

        await notify(hub, "Laundry", "Rain at 15:00: take the laundry in", "n-1", "reminder", 2)
        await eventually(
            lambda: {p.name for p in service.got} >= {"alice", "alice-gone", "bob"},
            what="pushes to alice and bob",
        )
        await relay.push.wait_idle()
        assert service.of("carol") == []  # not in the home
        for name in ("alice", "bob"):
            [pushed] = service.of(name)
            assert pushed.headers["Content-Encoding"] == "aes128gcm"
            assert pushed.headers["TTL"] == str(int(relay.config.push_ttl_s))
            assert pushed.headers["Urgency"] == "normal"  # a reminder; alerts are "high"
            assert browsers[name].decrypt(pushed.body) == {
                "title": "Laundry",
                "body": "Rain at 15:00: take the laundry in",
                "kind": "reminder",
                "hub_id": hub_id,
                "notification_id": "n-1",
                "thread": f"{hub_id}:n-1",
                "count": 2,
                "ts": browsers[name].decrypt(pushed.body)["ts"],
            }
            check_vapid(pushed, public_key, service.url, relay.config.push_contact)
        # A wrong key cannot read it: the body really is encrypted to the subscription.
        with pytest.raises(Exception):  # noqa: B017 - http_ece raises plain Exceptions
            browsers["carol"].decrypt(service.of("alice")[0].body)

        # The 410 endpoint is forgotten; the others stay.
        alice_id = (await alice.client.get("/v1/sessions/current")).json()["account_id"]
        endpoints = [s.endpoint for s in await relay.store.push_subscriptions_of(alice_id)]
        assert endpoints == [browsers["alice"].endpoint]

        # Other events are not pushed; an alert is pushed "high"; a removed member gets nothing.
        bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
        assert (await alice.client.delete(f"/v1/hubs/{hub_id}/members/{bob_id}")).status_code == 204
        await hub.virtual.sense("virtual-heater", {"temperature": 25.5})
        await notify(hub, "Door", "Open", "n-2", "alert")
        await eventually(lambda: len(service.of("alice")) == 2, what="the alert")
        await relay.push.wait_idle()
        assert len(service.of("bob")) == 1
        alert = service.of("alice")[1]
        assert alert.headers["Urgency"] == "high"
        assert browsers["alice"].decrypt(alert.body)["title"] == "Door"

        # Unsubscribe: no more pushes; again is 404.
        sub = {"endpoint": browsers["alice"].endpoint}
        assert (
            await alice.client.request("DELETE", "/v1/push/subscriptions", json=sub)
        ).status_code == 204
        assert (
            await alice.client.request("DELETE", "/v1/push/subscriptions", json=sub)
        ).status_code == 404
        await notify(hub, "x", "y", "n-3")
        await asyncio.sleep(0.5)
        await relay.push.wait_idle()
        assert len(service.of("alice")) == 2


async def test_a_slow_push_service_never_holds_up_the_hub(tmp_path: Path) -> None:
    """Pushes hang for seconds; the hub's events and API answers still flow at once."""
    async with (
        push_service() as service,
        running_relay(
            tmp_path / "relay",
            push_allow_insecure_endpoints=True,
            push_concurrency=2,
            push_timeout_s=5.0,
        ) as relay,
        linked_hub(tmp_path / "hub", relay.url) as hub,
        aiohttp.ClientSession() as web_,
    ):
        await relay.create_account("alice@example.org", PASSWORD)
        alice = await Phone.login(relay.url, "alice@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            for i in range(3):
                service.delay[f"slow{i}"] = 1.5
                r = await alice.client.post(
                    "/v1/push/subscriptions", json=service.browser(f"slow{i}").subscription()
                )
                assert r.status_code == 201
            ws = await web_.ws_connect(
                relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events",
                headers={"Authorization": f"Bearer {alice.token}"},
            )
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            for n in range(2):  # 6 pushes, 2 at a time, 1.5 s each
                await notify(hub, f"t{n}", "m", f"n{n}")
            await asyncio.sleep(0.3)  # the pushes are under way and stuck
            started = time.monotonic()
            await hub.virtual.sense("virtual-heater", {"temperature": 26.5})
            while True:
                event = await ws.receive_json(timeout=2)
                if event["type"] == "state_changed":
                    break
            assert event["changes"] == {"temperature": 26.5}
            r = await alice.client.get(f"/v1/hubs/{hub_id}/api/devices")
            assert r.status_code == 200
            assert time.monotonic() - started < 1.5
            assert service.got == []  # the push service has answered nothing yet
            await ws.close()
            await relay.push.wait_idle()
            assert len(service.got) == 6
            assert service.peak == 2  # push_concurrency
        finally:
            await alice.close()


async def test_subscriptions_are_checked(relay: RelayServer) -> None:
    """Production settings: only https endpoints of public hosts, real keys."""
    alice = await Phone.login(relay.url, "alice@example.org")
    try:
        good = Browser("x", "https://fcm.googleapis.com/fcm/send/abc123").subscription()
        r = await alice.client.post("/v1/push/subscriptions", json=good)
        assert r.status_code == 201, r.text
        cases: list[tuple[Any, str]] = [
            ({**good, "endpoint": "http://push.example.org/x"}, "--push-allow-insecure-endpoints"),
            ({**good, "endpoint": "https://127.0.0.1/x"}, "not a public push service"),
            ({**good, "endpoint": "https://localhost/x"}, "not a public push service"),
            ({**good, "endpoint": "https://[::1]/x"}, "not a public push service"),
            ({**good, "endpoint": "https://10.1.2.3/x"}, "not a public push service"),
            ({**good, "endpoint": "ftp://push.example.org/x"}, "https://"),
            ({**good, "endpoint": "https://e.org/" + "a" * 3000}, "2048"),
            ({"keys": good["keys"]}, "PushSubscription"),
            ({**good, "keys": None}, '"keys"'),
            ({**good, "keys": {**good["keys"], "p256dh": "AAAA"}}, "p256dh"),
            ({**good, "keys": {**good["keys"], "p256dh": b64(b"\x04" + b"\x01" * 64)}}, "p256dh"),
            ({**good, "keys": {**good["keys"], "auth": b64(b"short")}}, "auth"),
            ({**good, "keys": {"p256dh": good["keys"]["p256dh"]}}, "auth"),
            ([1, 2], "JSON object"),
        ]
        for body, message in cases:
            r = await alice.client.post("/v1/push/subscriptions", json=body)
            assert r.status_code == 400, (body, r.text)
            assert message in r.json()["error"]["message"], (message, r.text)
        r = await alice.client.request("DELETE", "/v1/push/subscriptions", json={})
        assert r.status_code == 400
        # Signed out: 401.
        r = await alice.client.post(
            "/v1/push/subscriptions", json=good, headers={"Authorization": "Bearer nope"}
        )
        assert r.status_code == 401
    finally:
        await alice.close()


async def test_the_vapid_key_is_made_once_and_kept(tmp_path: Path, relay_backend: str) -> None:
    """Same key after a restart (SQLite) and on every node of a cluster (PostgreSQL)."""
    async with running_relay(tmp_path / "a") as a:
        key = await _key(a)
        if relay_backend == "sqlite":
            # The key is in the database, in the owner-only data folder.
            mode = stat.S_IMODE(os.stat(a.config.data_dir).st_mode)
            assert mode & 0o077 == 0, oct(mode)
        else:
            async with running_relay(tmp_path / "b") as b:
                assert await _key(b) == key
    async with running_relay(tmp_path / "a") as again:
        assert await _key(again) == key


async def _key(relay: RelayServer) -> str:
    async with httpx.AsyncClient(base_url=relay.url) as http:
        r = await http.get("/v1/push/key")
        assert r.status_code == 200
        return str(r.json()["public_key"])
