"""Tenancy: a second account reaches nothing of the first account's hub, by any endpoint."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

import aiohttp
import pytest
from relay_testkit import Phone, claim_code, dump_store, linked_hub, table_rows

from relay import RelayServer
from relay.store import Invitation


async def _db_state(relay: RelayServer) -> tuple[list[tuple], list[tuple]]:
    claims = sorted(await table_rows(relay, "claims", "hub_id, account_id"))
    queue = sorted(await table_rows(relay, "queue", "seq, status"))
    return claims, queue


async def test_second_account_reaches_nothing(tmp_path: Path, relay: RelayServer) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            used_code = await claim_code(hub)
            hub_id = await alice.claim(used_code)
            lamp_before = hub.rh.hub.registry.get("virtual-lamp").shadow.to_dict()
            db_before = await _db_state(relay)
            guessed = "hub_" + secrets.token_hex(12)

            assert (await bob.client.get("/v1/hubs")).json() == {"hubs": []}
            attempts = [
                ("GET", f"/v1/hubs/{hub_id}", None),
                ("DELETE", f"/v1/hubs/{hub_id}", None),
                ("GET", f"/v1/hubs/{hub_id}/devices", None),
                ("GET", f"/v1/hubs/{hub_id}/devices/virtual-lamp", None),
                ("PUT", f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                 {"values": {"power": True}}),
                ("GET", f"/v1/hubs/{hub_id}/queue", None),
                ("GET", f"/v1/hubs/{hub_id}/api/devices", None),
                ("PUT", f"/v1/hubs/{hub_id}/api/devices/virtual-lamp/desired",
                 {"values": {"power": True}}),
                ("POST", f"/v1/hubs/{hub_id}/api/relay/claim-code", None),
                ("GET", f"/v1/hubs/{guessed}", None),
                ("GET", f"/v1/hubs/{guessed}/devices", None),
                ("PUT", f"/v1/hubs/{guessed}/devices/virtual-lamp/desired",
                 {"values": {"power": True}}),
            ]
            for method, path, body in attempts:
                r = await bob.client.request(method, path, json=body)
                assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
            # Replaying the code alice used, in any spelling.
            for code in (used_code, used_code.lower(), used_code.replace("-", "")):
                r = await bob.client.post("/v1/hubs/claim", json={"code": code})
                assert r.status_code == 404, r.text
            # Another hub id's answer is word for word the same: ids reveal nothing.
            mine = (await bob.client.get(f"/v1/hubs/{hub_id}")).json()["error"]["message"]
            other = (await bob.client.get(f"/v1/hubs/{guessed}")).json()["error"]["message"]
            assert mine.replace(hub_id, "X") == other.replace(guessed, "X")

            # Subscribing to events.
            url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
            async with aiohttp.ClientSession() as session:
                for kw in (
                    {"headers": {"Authorization": f"Bearer {bob.token}"}},
                    {"params": {"token": bob.token}},
                ):
                    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                        await session.ws_connect(url, **kw)
                    assert err.value.status == 404

            # No session at all, or a forged one.
            anon = alice.client.build_request("GET", f"/v1/hubs/{hub_id}/devices")
            anon.headers.pop("Authorization")
            assert (await alice.client.send(anon)).status_code == 401
            r = await alice.client.get(
                f"/v1/hubs/{hub_id}/devices", headers={"Authorization": "Bearer rs_forged"}
            )
            assert r.status_code == 401

            # Nothing changed: the device, the claims, the queue; alice still has her hub.
            assert hub.rh.hub.registry.get("virtual-lamp").shadow.to_dict() == lamp_before
            assert hub.virtual.devices["virtual-lamp"].applied == []
            assert await _db_state(relay) == db_before
            hubs = (await alice.client.get("/v1/hubs")).json()["hubs"]
            assert [h["hub_id"] for h in hubs] == [hub_id]
        finally:
            await alice.close()
            await bob.close()


async def test_relay_db_holds_nothing_to_impersonate_a_hub(
    tmp_path: Path, relay: RelayServer
) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        try:
            code = await claim_code(hub)
            await alice.claim(code)
            await relay.shadows.flush()
            private_raw = (tmp_path / "hub" / "relay_identity.key").read_bytes()
        finally:
            await alice.close()
        dump = await dump_store(relay)
        public_keys = [bytes(r[0]) for r in await table_rows(relay, "hubs", "public_key")]
        password_hashes = [r[0] for r in await table_rows(relay, "accounts", "password_hash")]
        # Only the public key, no private key in any encoding, no plaintext code or token.
        import base64

        assert public_keys == [hub.link.client.identity.public_key_raw]  # type: ignore[union-attr]
        for secret in (
            private_raw,
            private_raw.hex().encode(),
            base64.b64encode(private_raw),
            code.encode(),
            code.replace("-", "").encode(),
            alice.token.encode(),
            b"correct horse battery",
        ):
            assert secret not in dump
        assert all(h.startswith("$argon2id$") for h in password_hashes)

        # With everything the relay stores, an attacker still cannot pass the handshake.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from relay import protocol as p

        async with aiohttp.ClientSession() as session, session.ws_connect(
            relay.tunnel_url
        ) as ws:
            challenge = p.decode((await ws.receive(timeout=10)).data)
            assert isinstance(challenge, p.Challenge)
            stolen_public = p.b64(public_keys[0])
            wrong = Ed25519PrivateKey.generate().sign(
                p.auth_payload(challenge.nonce, stolen_public)
            )
            await ws.send_str(p.encode(p.Auth(stolen_public, p.b64(wrong), "x", "x")))
            msg = await ws.receive(timeout=10)
            assert msg.type == aiohttp.WSMsgType.CLOSE
            assert msg.data == 4001
            assert "signature" in msg.extra
        # The genuine hub is still the one attached.
        assert relay.sessions[hub.relay_hub_id].ws is not None
        assert json.loads(json.dumps(hub.link.status()))["state"] == "connected"


async def test_unclaim_and_logout_take_effect_at_once(tmp_path: Path, relay: RelayServer) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            assert (await alice.client.get(f"/v1/hubs/{hub_id}/devices")).status_code == 200
            ws_url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
            async with aiohttp.ClientSession() as session, session.ws_connect(
                ws_url, params={"token": alice.token}
            ) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "hello"
                assert (await alice.client.delete(f"/v1/hubs/{hub_id}")).status_code == 204
                # An events stream that was already open is cut at once, with the reason.
                closing = await ws.receive(timeout=10)
                assert closing.type == aiohttp.WSMsgType.CLOSE
                assert closing.data == 1008
                assert "removed from your account" in closing.extra
            assert (await alice.client.get(f"/v1/hubs/{hub_id}/devices")).status_code == 404
            assert (await alice.client.get(f"/v1/hubs/{hub_id}/api/devices")).status_code == 404
            assert (await alice.client.delete("/v1/sessions/current")).status_code == 204
            assert (await alice.client.get("/v1/hubs")).status_code == 401
        finally:
            await alice.close()


async def _invite_and_join(relay: RelayServer, hub_id: str, owner: str, guest: str) -> None:
    """The owner invites `guest`, who accepts (at the store: the seam the phone API uses)."""
    owner_row = await relay.store.account_by_email(owner)
    guest_row = await relay.store.account_by_email(guest)
    assert owner_row is not None and guest_row is not None
    invitation = await relay.store.add_invitation(Invitation(
        "inv_" + secrets.token_hex(8), hub_id, guest, owner_row[0], time.time()))
    assert await relay.store.accept_invitation(invitation.id, guest_row[0], time.time())


@pytest.mark.parametrize("route", ["devices/virtual-lamp/desired",
                                   "api/devices/virtual-lamp/desired"])
async def test_two_accounts_reusing_an_idempotency_key_stay_apart(
    tmp_path: Path, relay: RelayServer, route: str
) -> None:
    """The relay prefixes each account's Idempotency-Key before the hub sees it.

    Two people of one household who happen to send the same key must get two commands: not a
    409 for the second one ("key used for a different request") nor, with the same body, the
    first person's command back as a replay."""
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            await _invite_and_join(relay, hub_id, "alice@example.org", "bob@example.org")
            path = f"/v1/hubs/{hub_id}/{route}"
            key = {"Idempotency-Key": "same-key-1"}
            a = await alice.client.put(path, json={"values": {"brightness": 20}}, headers=key)
            b = await bob.client.put(path, json={"values": {"brightness": 80}}, headers=key)
            assert (a.status_code, b.status_code) == (202, 202), (a.text, b.text)
            c = await bob.client.put(path, json={"values": {"brightness": 20}},
                                     headers={"Idempotency-Key": "same-key-2"})
            d = await alice.client.put(path, json={"values": {"brightness": 20}},
                                       headers={"Idempotency-Key": "same-key-2"})
            ids = [r.json()["command_id"] for r in (a, b, c, d)]
            assert len(set(ids)) == 4, ids
            # A retry by the same person is still one command.
            again = await alice.client.put(path, json={"values": {"brightness": 20}},
                                           headers=key)
            assert again.json()["command_id"] == ids[0]
        finally:
            await alice.close()
            await bob.close()


async def test_a_claim_removed_behind_the_nodes_back_stops_counting_within_the_cache_time(
        tmp_path: Path, relay: RelayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # One node caches "yes, this account may use this hub" for OWNS_CACHE_S; a claim removed
    # without it hearing (another process, an operator's SQL) must stop counting after that.
    from relay.phone import context

    monkeypatch.setattr(context, "OWNS_CACHE_S", 0.3)
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            path = f"/v1/hubs/{hub_id}/devices"
            assert (await alice.client.get(path)).status_code == 200
            found = await relay.store.account_by_email("alice@example.org")
            assert found is not None
            assert await relay.store.remove_claim(found[0], hub_id)
            deadline = time.monotonic() + 5
            while (await alice.client.get(path)).status_code == 200:
                assert time.monotonic() < deadline, "the removed claim still counts"
                await asyncio.sleep(0.05)
            assert (await alice.client.get(path)).status_code == 404
        finally:
            await alice.close()
