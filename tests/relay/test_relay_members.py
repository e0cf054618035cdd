"""Members of a home over the phone API: the owner invites and removes, members see and control,
non-members see nothing, a removed member loses access at once (sockets too, on every node)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import aiohttp
from cluster_services import REDIS_URL, fresh_database, fresh_redis_prefix
from relay_testkit import PASSWORD, Phone, claim_code, linked_hub, running_relay

from relay import RelayServer


async def _ws(session: aiohttp.ClientSession, base: str, hub_id: str, phone: Phone) -> Any:
    ws = await session.ws_connect(
        base.replace("http", "ws") + f"/v1/hubs/{hub_id}/events",
        headers={"Authorization": f"Bearer {phone.token}"},
    )
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    return ws


async def _closed_with(ws: Any, reason: str) -> None:
    """The socket closes with 1008 and the reason (events before the close are skipped)."""
    while True:
        msg = await ws.receive(timeout=10)
        if msg.type == aiohttp.WSMsgType.TEXT:
            continue
        assert msg.type == aiohttp.WSMsgType.CLOSE, msg
        assert msg.data == 1008
        assert reason in msg.extra, msg.extra
        return


async def _join(owner: Phone, guest: Phone, hub_id: str, email: str) -> dict[str, Any]:
    r = await owner.client.post(f"/v1/hubs/{hub_id}/invitations", json={"email": email})
    assert r.status_code == 201, r.text
    r = await guest.client.post(f"/v1/invitations/{r.json()['id']}/accept")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_owner_invites_member_controls_and_is_removed(
    tmp_path: Path, relay: RelayServer
) -> None:
    await relay.create_account("carol@example.org", PASSWORD)
    async with linked_hub(tmp_path / "hub", relay.url) as hub, contextlib.AsyncExitStack() as st:
        alice, bob, carol = [
            await Phone.login(relay.url, f"{n}@example.org") for n in ("alice", "bob", "carol")
        ]
        for p in (alice, bob, carol):
            st.push_async_callback(p.close)
        hub_id = await alice.claim(await claim_code(hub))
        alice_id = (await alice.client.get("/v1/sessions/current")).json()["account_id"]
        bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
        base = f"/v1/hubs/{hub_id}"

        # A non-member learns nothing: every member route answers 404 like an unknown hub.
        for method, path, body in [
            ("GET", f"{base}/members", None),
            ("POST", f"{base}/invitations", {"email": "bob@example.org"}),
            ("DELETE", f"{base}/invitations/inv_x", None),
            ("DELETE", f"{base}/members/{alice_id}", None),
            ("DELETE", f"{base}/members/me", None),
        ]:
            r = await bob.client.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert "no hub" in r.json()["error"]["message"]

        # The owner invites bob (again: the same invitation), not herself nor a non-address.
        r = await alice.client.post(f"{base}/invitations", json={"email": " Bob@Example.org "})
        assert r.status_code == 201, r.text
        invitation = r.json()
        assert invitation == {
            "id": invitation["id"],
            "hub_id": hub_id,
            "hub_name": invitation["hub_name"],
            "email": "bob@example.org",
            "from_account_id": alice_id,
            "from_email": "alice@example.org",
            "created": invitation["created"],
        }
        assert invitation["id"].startswith("inv_") and invitation["hub_name"]
        again = await alice.client.post(f"{base}/invitations", json={"email": "bob@example.org"})
        assert again.status_code == 200 and again.json()["id"] == invitation["id"]
        r = await alice.client.post(f"{base}/invitations", json={"email": "alice@example.org"})
        assert r.status_code == 409 and "you own" in r.json()["error"]["message"]
        for bad in ({"email": "not-an-address"}, {}, {"email": 5}):
            r = await alice.client.post(f"{base}/invitations", json=bad)
            assert r.status_code == 422, r.text

        members = (await alice.client.get(f"{base}/members")).json()
        assert members == {
            "hub_id": hub_id,
            "role": "owner",
            "members": [
                {"account_id": alice_id, "email": "alice@example.org", "role": "owner", "you": True}
            ],
            "invitations": [invitation],
        }

        # Bob sees it; carol sees nothing and cannot use bob's invitation.
        assert (await bob.client.get("/v1/invitations")).json() == {"invitations": [invitation]}
        assert (await carol.client.get("/v1/invitations")).json() == {"invitations": []}
        for action in ("accept", "decline"):
            r = await carol.client.post(f"/v1/invitations/{invitation['id']}/{action}")
            assert r.status_code == 404, r.text
        r = await bob.client.post(f"/v1/invitations/{invitation['id']}/accept")
        assert r.status_code == 200, r.text
        assert r.json()["hub_id"] == hub_id and r.json()["role"] == "member"
        assert r.json()["online"] is True
        assert (await bob.client.get("/v1/invitations")).json() == {"invitations": []}
        r = await bob.client.post(f"/v1/invitations/{invitation['id']}/accept")
        assert r.status_code == 404  # used

        hubs = (await bob.client.get("/v1/hubs")).json()["hubs"]
        assert [(h["hub_id"], h["role"], h["online"]) for h in hubs] == [(hub_id, "member", True)]
        assert isinstance(hubs[0]["last_seen"], float)
        members = (await bob.client.get(f"{base}/members")).json()
        assert members["role"] == "member"
        assert [(m["email"], m["role"], m["you"]) for m in members["members"]] == [
            ("alice@example.org", "owner", False),
            ("bob@example.org", "member", True),
        ]

        # A member sees and controls the home...
        assert (await bob.client.get(f"{base}/devices")).status_code == 200
        assert (await bob.client.get(f"{base}/api/devices")).status_code == 200
        r = await bob.client.put(
            f"{base}/devices/virtual-lamp/desired", json={"values": {"power": True}}
        )
        assert r.status_code in (200, 202), r.text
        # ... but does not manage members, invitations or the claim.
        for method, path, body in [
            ("POST", f"{base}/invitations", {"email": "carol@example.org"}),
            ("DELETE", f"{base}/invitations/{invitation['id']}", None),
            ("DELETE", f"{base}/members/{alice_id}", None),
        ]:
            r = await bob.client.request(method, path, json=body)
            assert r.status_code == 403, (method, path, r.text)
            assert "owner" in r.json()["error"]["message"]

        # Carol: declined, then invited and cancelled by the owner.
        r = await alice.client.post(f"{base}/invitations", json={"email": "carol@example.org"})
        carol_inv = r.json()["id"]
        assert (await carol.client.post(f"/v1/invitations/{carol_inv}/decline")).status_code == 204
        assert (await alice.client.get(f"{base}/members")).json()["invitations"] == []
        r = await alice.client.post(f"{base}/invitations", json={"email": "carol@example.org"})
        carol_inv = r.json()["id"]
        r = await alice.client.delete(f"{base}/invitations/{carol_inv}")
        assert r.status_code == 204
        assert (await alice.client.delete(f"{base}/invitations/{carol_inv}")).status_code == 404
        assert (await carol.client.post(f"/v1/invitations/{carol_inv}/accept")).status_code == 404
        assert (await carol.client.get("/v1/hubs")).json() == {"hubs": []}

        # The owner removes bob: his open socket closes and every route is 404 at once (his
        # access was cached by the requests above).
        async with aiohttp.ClientSession() as session:
            ws = await _ws(session, relay.url, hub_id, bob)
            alice_ws = await _ws(session, relay.url, hub_id, alice)
            assert (await alice.client.delete(f"{base}/members/{bob_id}")).status_code == 204
            await _closed_with(ws, "removed you")
            # The owner's own socket stays open and hears who went.
            event = await alice_ws.receive_json(timeout=10)
            assert event == {"type": "members", "hub_id": hub_id, "removed": [bob_id]}
            await alice_ws.close()
        for path in (f"{base}/devices", f"{base}/api/devices", base, f"{base}/members"):
            assert (await bob.client.get(path)).status_code == 404, path
        assert (await bob.client.get("/v1/hubs")).json() == {"hubs": []}
        assert (await alice.client.delete(f"{base}/members/{bob_id}")).status_code == 404

        # A member leaves: DELETE .../members/me, or DELETE on the hub (only their membership).
        for leave in (f"{base}/members/me", base):
            await _join(alice, bob, hub_id, "bob@example.org")
            assert (await bob.client.get(f"{base}/devices")).status_code == 200
            assert (await bob.client.delete(leave)).status_code == 204
            assert (await bob.client.get(f"{base}/devices")).status_code == 404
            assert (await alice.client.get(base)).json()["role"] == "owner"
        # The owner cannot leave; she removes the hub, and everyone in it goes.
        r = await alice.client.delete(f"{base}/members/me")
        assert r.status_code == 409 and f"DELETE /v1/hubs/{hub_id}" in r.json()["error"]["message"]
        await _join(alice, bob, hub_id, "bob@example.org")
        r = await alice.client.post(f"{base}/invitations", json={"email": "carol@example.org"})
        assert (await alice.client.delete(base)).status_code == 204
        for p in (alice, bob):
            assert (await p.client.get("/v1/hubs")).json() == {"hubs": []}
        assert (await carol.client.get("/v1/invitations")).json() == {"invitations": []}


async def test_removal_on_one_node_holds_on_the_other_at_once(tmp_path: Path) -> None:
    """Two nodes over PostgreSQL + Redis: bob is removed through node a while his socket and
    his requests go to node b."""
    async with fresh_database() as store, fresh_redis_prefix() as prefix:
        cluster = {"store_url": store, "routing_url": REDIS_URL, "routing_prefix": prefix}
        async with (
            running_relay(tmp_path / "a", **cluster) as a,
            running_relay(tmp_path / "b", **cluster) as b,
            linked_hub(tmp_path / "hub", a.url) as hub,
            contextlib.AsyncExitStack() as st,
        ):
            for email in ("alice@example.org", "bob@example.org"):
                await a.create_account(email, PASSWORD)
            alice = await Phone.login(a.url, "alice@example.org")
            bob = await Phone.login(b.url, "bob@example.org")
            st.push_async_callback(alice.close)
            st.push_async_callback(bob.close)
            hub_id = await alice.claim(await claim_code(hub))
            await _join(alice, bob, hub_id, "bob@example.org")
            bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
            session = await st.enter_async_context(aiohttp.ClientSession())
            ws = await _ws(session, b.url, hub_id, bob)
            assert (await bob.client.get(f"/v1/hubs/{hub_id}/devices")).status_code == 200
            # Node b subscribes to the hub's channel in Redis shortly after the hello; it is
            # subscribed once one of the hub's events reaches bob.
            for step in range(100):
                await hub.virtual.sense("virtual-heater", {"temperature": 20.0 + step / 8})
                with contextlib.suppress(TimeoutError):
                    if (await ws.receive_json(timeout=0.2))["type"] == "state_changed":
                        break
            else:
                raise AssertionError("node b never got the hub's events")

            r = await alice.client.delete(f"/v1/hubs/{hub_id}/members/{bob_id}")
            assert r.status_code == 204
            assert (await bob.client.get(f"/v1/hubs/{hub_id}/devices")).status_code == 404
            await _closed_with(ws, "no longer a member")


async def test_a_socket_rechecks_membership(tmp_path: Path, relay_backend: str) -> None:
    """A removal whose event never arrived still closes the socket at the next re-check."""
    async with (
        running_relay(tmp_path / "r", membership_recheck_s=0.3) as relay,
        linked_hub(tmp_path / "hub", relay.url) as hub,
        aiohttp.ClientSession() as session,
    ):
        for email in ("alice@example.org", "bob@example.org"):
            await relay.create_account(email, PASSWORD)
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            await _join(alice, bob, hub_id, "bob@example.org")
            ws = await _ws(session, relay.url, hub_id, bob)
            bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
            assert await relay.store.remove_claim(bob_id, hub_id)  # no event published
            await _closed_with(ws, "no longer a member")
        finally:
            await alice.close()
            await bob.close()


async def test_second_claim_refused_and_invitation_is_the_way_in(
    tmp_path: Path, relay: RelayServer
) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            r = await bob.client.post("/v1/hubs/claim", json={"code": await claim_code(hub)})
            assert r.status_code == 409
            await _join(alice, bob, hub_id, "bob@example.org")
            # A member redeeming a fresh code stays a member (200, not a second owner).
            r = await bob.client.post("/v1/hubs/claim", json={"code": await claim_code(hub)})
            assert r.status_code == 200 and r.json()["role"] == "member"
            alice_id = (await alice.client.get("/v1/sessions/current")).json()["account_id"]
            assert await relay.store.hub_owner(hub_id) == alice_id
        finally:
            await alice.close()
            await bob.close()


async def test_a_cached_yes_lasts_exactly_the_cache_time_on_one_node(
    tmp_path: Path, relay: RelayServer, relay_backend: str, monkeypatch: Any
) -> None:
    """One node trusts a "yes" for OWNS_CACHE_S, then asks the store again (a claim removed
    behind its back, e.g. by an operator, stops counting then); a cluster never caches, and a
    removal through the API counts at once everywhere (driven clock of the ownership cache)."""
    import types

    from relay.phone import context

    clock = [1000.0]
    monkeypatch.setattr(context, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    cache_s = context.OWNS_CACHE_S
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            await _join(alice, bob, hub_id, "bob@example.org")
            alice_id = (await alice.client.get("/v1/sessions/current")).json()["account_id"]
            bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
            path = f"/v1/hubs/{hub_id}/devices"

            # A member removed by the owner: 404 at once, and still after the cache time.
            assert (await bob.client.get(path)).status_code == 200
            r = await alice.client.delete(f"/v1/hubs/{hub_id}/members/{bob_id}")
            assert r.status_code == 204
            assert (await bob.client.get(path)).status_code == 404
            clock[0] += cache_s + 1
            assert (await bob.client.get(path)).status_code == 404

            # The owner's claim removed behind the node's back.
            start = clock[0]
            assert (await alice.client.get(path)).status_code == 200  # cached until start + C
            assert await relay.store.remove_claim(alice_id, hub_id)
            if relay_backend == "sqlite":
                clock[0] = start + cache_s - 0.001
                assert (await alice.client.get(path)).status_code == 200  # still trusted
                clock[0] = start + cache_s
                assert (await alice.client.get(path)).status_code == 404  # expired right then
            else:
                assert (await alice.client.get(path)).status_code == 404  # asked every time
            clock[0] += 10 * cache_s
            assert (await alice.client.get(path)).status_code == 404
        finally:
            await alice.close()
            await bob.close()


async def test_one_node_keeps_a_cached_yes_for_each_hub_at_once(
    tmp_path: Path, relay: RelayServer, relay_backend: str
) -> None:
    """The ownership cache holds every recent "yes", not only the last one asked: Alice's
    yes for her first home still counts after she opened her second (shown by removing the
    first claim behind the node's back, which a cached yes outlives until it expires)."""
    async with (
        linked_hub(tmp_path / "hub1", relay.url) as hub1,
        linked_hub(tmp_path / "hub2", relay.url) as hub2,
        contextlib.AsyncExitStack() as st,
    ):
        alice = await Phone.login(relay.url, "alice@example.org")
        st.push_async_callback(alice.close)
        first = await alice.claim(await claim_code(hub1))
        second = await alice.claim(await claim_code(hub2))
        alice_id = (await alice.client.get("/v1/sessions/current")).json()["account_id"]
        assert (await alice.client.get(f"/v1/hubs/{first}/devices")).status_code == 200
        assert (await alice.client.get(f"/v1/hubs/{second}/devices")).status_code == 200
        assert await relay.store.remove_claim(alice_id, first)
        # One node: both yeses are cached (OWNS_CACHE_S is far away); a cluster asks the store.
        expected = 200 if relay_backend == "sqlite" else 404
        assert (await alice.client.get(f"/v1/hubs/{first}/devices")).status_code == expected
        assert (await alice.client.get(f"/v1/hubs/{second}/devices")).status_code == 200


async def _still_carries_events(ws: Any, hub: Any) -> None:
    """The socket is open and delivers the hub's events (a closed one would say CLOSE)."""
    for step in range(100):
        await hub.virtual.sense("virtual-heater", {"temperature": 20.0 + step / 8})
        msg = None
        with contextlib.suppress(TimeoutError):
            msg = await ws.receive(timeout=0.2)
        if msg is None:
            continue
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        if msg.json()["type"] == "state_changed":
            break
    else:
        raise AssertionError("the kept hub's events never reached bob")
    assert not ws.closed


async def test_removal_from_one_hub_leaves_the_members_other_hub_sockets_open(
    tmp_path: Path, relay: RelayServer
) -> None:
    """Bob is a member of three homes; removed from one, his sockets of the others stay open
    (removed from the one whose id sorts in the middle: one kept id is smaller, one greater)."""
    async with (
        linked_hub(tmp_path / "hub1", relay.url) as hub1,
        linked_hub(tmp_path / "hub2", relay.url) as hub2,
        linked_hub(tmp_path / "hub3", relay.url) as hub3,
        contextlib.AsyncExitStack() as st,
    ):
        alice = await Phone.login(relay.url, "alice@example.org")
        st.push_async_callback(alice.close)
        bob = await Phone.login(relay.url, "bob@example.org")
        st.push_async_callback(bob.close)
        ids = {await alice.claim(await claim_code(h)): h for h in (hub1, hub2, hub3)}
        for hub_id in ids:
            await _join(alice, bob, hub_id, "bob@example.org")
        bob_id = (await bob.client.get("/v1/sessions/current")).json()["account_id"]
        below, gone, above = sorted(ids)
        session = await st.enter_async_context(aiohttp.ClientSession())
        ws_gone = await _ws(session, relay.url, gone, bob)
        kept = {h: await _ws(session, relay.url, h, bob) for h in (below, above)}
        assert (await alice.client.delete(f"/v1/hubs/{gone}/members/{bob_id}")).status_code == 204
        await _closed_with(ws_gone, "removed you")
        for hub_id, ws in kept.items():
            await _still_carries_events(ws, ids[hub_id])
            assert (await bob.client.get(f"/v1/hubs/{hub_id}/devices")).status_code == 200
            await ws.close()
        assert (await bob.client.get(f"/v1/hubs/{gone}/devices")).status_code == 404
