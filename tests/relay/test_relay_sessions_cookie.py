"""The web app's sign-in: an HttpOnly session cookie with a CSRF token, on a real relay.

Bearer-token clients keep working as before (and "bearer" in any case is accepted).
"""

from __future__ import annotations

import base64
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import httpx
import pytest
from relay_testkit import PASSWORD, Phone, claim_code, linked_hub, running_relay

from relay import RelayServer

COOKIE = "homehub_relay_session"


def _set_cookie(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


async def _cookie_login(client: httpx.AsyncClient, **headers: str) -> tuple[httpx.Response, str]:
    r = await client.post(
        "/v1/sessions",
        json={"email": "Alice@Example.org", "password": PASSWORD, "cookie": True},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r, _set_cookie(r)[COOKIE].value


async def test_cookie_session_csrf_origin_and_sign_out(tmp_path: Path, relay: RelayServer) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub, httpx.AsyncClient(
        base_url=relay.url, timeout=15.0
    ) as http:
        r, token = await _cookie_login(http)
        body = r.json()
        assert set(body) == {"account_id", "email", "csrf"}  # the token is not in the body
        assert body["email"] == "alice@example.org"
        morsel = _set_cookie(r)[COOKIE]
        assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
        assert not morsel["secure"]  # plain HTTP on loopback: a Secure cookie would be dropped
        assert int(morsel["max-age"]) == int(relay.config.session_ttl_s)
        csrf = body["csrf"]
        # Behind an HTTPS proxy the cookie is Secure.
        r_https, _ = await _cookie_login(http, **{"X-Forwarded-Proto": "https"})
        assert _set_cookie(r_https)[COOKIE]["secure"]

        jar = {"Cookie": f"{COOKIE}={token}"}
        origin = {"Origin": relay.url}
        r = await http.get("/v1/sessions/current", headers=jar)
        assert r.status_code == 200, r.text
        assert r.json() == {"account_id": body["account_id"], "email": body["email"], "csrf": csrf}
        r = await http.get("/v1/sessions/current")
        assert r.status_code == 401
        assert r.json()["error"]["status"] == 401
        assert (await http.get("/v1/hubs", headers=jar)).json() == {"hubs": []}

        code = await claim_code(hub)
        # A change without the CSRF token, or from another site's page, is refused.
        for headers, why in (
            ({**jar, **origin}, "X-CSRF-Token"),
            ({**jar, **origin, "X-CSRF-Token": "0" * 32}, "X-CSRF-Token"),
            ({**jar, "X-CSRF-Token": csrf, "Origin": "https://evil.example"}, "evil.example"),
        ):
            r = await http.post("/v1/hubs/claim", json={"code": code}, headers=headers)
            assert r.status_code == 403, r.text
            assert why in r.json()["error"]["message"]
        r = await http.post(
            "/v1/hubs/claim", json={"code": code}, headers={**jar, **origin, "X-CSRF-Token": csrf}
        )
        assert r.status_code == 201, r.text
        hub_id = r.json()["hub_id"]
        assert r.json()["role"] == "owner"

        # The events socket takes the cookie; a page on another origin cannot open it.
        ws_url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await session.ws_connect(
                    ws_url, headers={**jar, "Origin": "https://evil.example"}
                )
            assert err.value.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await session.ws_connect(ws_url, headers=origin)  # no cookie at all
            assert err.value.status == 401
            ws = await session.ws_connect(ws_url, headers={**jar, **origin})
            hello = await ws.receive_json(timeout=5)
            assert hello == {"type": "hello", "hub_id": hub_id, "online": True}

            # Signing out needs the CSRF token too; then the cookie is cleared, the socket
            # closes and the session is gone for good.
            r = await http.delete("/v1/sessions/current", headers={**jar, **origin})
            assert r.status_code == 403
            r = await http.delete(
                "/v1/sessions/current", headers={**jar, **origin, "X-CSRF-Token": csrf}
            )
            assert r.status_code == 204
            cleared = _set_cookie(r)[COOKIE]
            assert cleared.value == "" and int(cleared["max-age"]) == 0
            closing = await ws.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ws.close()
        assert (await http.get("/v1/sessions/current", headers=jar)).status_code == 401
        assert (await http.get("/v1/hubs", headers=jar)).status_code == 401


async def test_bearer_clients_any_case_and_unaffected_by_csrf(relay: RelayServer) -> None:
    phone = await Phone.login(relay.url, "alice@example.org")
    try:
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = await phone.client.get(
                "/v1/sessions/current", headers={"Authorization": f"{scheme} {phone.token}"}
            )
            assert r.status_code == 200, (scheme, r.text)
            assert r.json()["email"] == "alice@example.org"
        # A bearer client needs no CSRF token, even with a stray Origin header.
        r = await phone.client.post(
            "/v1/hubs/claim", json={"code": "NOPE-NOPE"}, headers={"Origin": "https://x.example"}
        )
        assert r.status_code == 404, r.text
        for bad in ("Basic abc", "Bearer", "Token " + phone.token):
            r = await phone.client.get("/v1/hubs", headers={"Authorization": bad})
            assert r.status_code == 401, bad
        r = await phone.client.delete("/v1/sessions/current")
        assert r.status_code == 204
        assert (await phone.client.get("/v1/hubs")).status_code == 401
    finally:
        await phone.close()


async def test_the_csrf_token_is_the_sessions_whichever_way_it_is_asked(
    relay: RelayServer,
) -> None:
    """The CSRF token belongs to the session: asked with the session as a bearer token the
    relay answers the same token as for its cookie, and another session gets another one."""
    async with httpx.AsyncClient(base_url=relay.url, timeout=15.0) as http:
        answers = []
        for _ in range(2):
            r, token = await _cookie_login(http)
            by_bearer = await http.get(
                "/v1/sessions/current", headers={"Authorization": f"Bearer {token}"}
            )
            assert by_bearer.status_code == 200, by_bearer.text
            assert by_bearer.json()["csrf"] == r.json()["csrf"]
            answers.append(r.json()["csrf"])
        assert answers[0] != answers[1]


async def test_a_claimed_hub_cannot_be_claimed_by_another_account(
    tmp_path: Path, relay: RelayServer
) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        alice = await Phone.login(relay.url, "alice@example.org")
        bob = await Phone.login(relay.url, "bob@example.org")
        try:
            hub_id = await alice.claim(await claim_code(hub))
            r = await bob.client.post("/v1/hubs/claim", json={"code": await claim_code(hub)})
            assert r.status_code == 409, r.text
            assert "invitation" in r.json()["error"]["message"]
            assert (await bob.client.get("/v1/hubs")).json() == {"hubs": []}
            assert (await bob.client.get(f"/v1/hubs/{hub_id}")).status_code == 404
            # The owner claiming again: 200, nothing changes.
            r = await alice.client.post("/v1/hubs/claim", json={"code": await claim_code(hub)})
            assert r.status_code == 200, r.text
            assert (r.json()["hub_id"], r.json()["role"]) == (hub_id, "owner")
            hubs = (await alice.client.get("/v1/hubs")).json()["hubs"]
            assert [(h["hub_id"], h["role"]) for h in hubs] == [(hub_id, "owner")]
            assert await relay.store.hub_accounts(hub_id) == [
                (await relay.store.account_by_email("alice@example.org") or ("",))[0]
            ]
        finally:
            await alice.close()
            await bob.close()


async def test_per_account_rate_limit_spares_sign_out_and_event_sockets(
    tmp_path: Path, relay_backend: str
) -> None:
    # Refill all but off (one token per 1,000 s): a slow machine cannot refill mid-test.
    async with running_relay(tmp_path / "relay", account_rate=0.001, account_burst=5) as relay:
        for email in ("alice@example.org", "bob@example.org"):
            await relay.create_account(email, PASSWORD)
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            alice = await Phone.login(relay.url, "alice@example.org")
            bob = await Phone.login(relay.url, "bob@example.org")
            try:
                hub_id = await alice.claim(await claim_code(hub))  # one of the five
                codes = [(await alice.client.get("/v1/hubs")).status_code for _ in range(6)]
                assert codes == [200] * 4 + [429] * 2
                r = await alice.client.get(f"/v1/hubs/{hub_id}/devices")
                assert r.status_code == 429
                assert r.headers["Retry-After"]
                assert "slow down" in r.json()["error"]["message"]
                assert (await bob.client.get("/v1/hubs")).status_code == 200  # per account
                # Her event socket still opens, and she can still sign out.
                ws_url = relay.url.replace("http", "ws") + f"/v1/hubs/{hub_id}/events"
                async with aiohttp.ClientSession() as session, session.ws_connect(
                    ws_url, headers={"Authorization": f"Bearer {alice.token}"}
                ) as ws:
                    assert (await ws.receive_json(timeout=10))["type"] == "hello"
                assert (await alice.client.delete("/v1/sessions/current")).status_code == 204
                assert (await alice.client.get("/v1/hubs")).status_code == 401
            finally:
                await alice.close()
                await bob.close()


async def test_push_key_is_public_and_503_until_loaded(relay: RelayServer) -> None:
    async with httpx.AsyncClient(base_url=relay.url, timeout=15.0) as http:
        r = await http.get("/v1/push/key")  # no sign-in needed
        assert r.status_code == 200, r.text
        key = r.json()["public_key"]
        assert key == relay.push.public_key
        # An uncompressed P-256 point, base64url without padding.
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        assert len(raw) == 65 and raw[0] == 4
        # A node that has not loaded its VAPID key yet (or has no push at all) says retry.
        for unready in ("key", "push"):
            with pytest.MonkeyPatch.context() as mp:
                if unready == "key":
                    mp.setattr(relay.push, "public_key", "")
                else:
                    mp.setattr(relay.phone, "push", None)
                r = await http.get("/v1/push/key")
                assert r.status_code == 503, (unready, r.text)
                assert r.headers["Retry-After"]
                assert "not ready" in r.json()["error"]["message"]
        assert (await http.get("/v1/push/key")).json() == {"public_key": key}


def test_a_phone_part_must_mount_its_routes() -> None:
    """A part of the phone API that forgets `add_routes` is refused when made, instead of
    serving nothing in silence."""
    from relay.phone.context import PhonePart

    class Forgetful(PhonePart):
        pass

    with pytest.raises(TypeError, match="add_routes"):
        Forgetful(None)  # type: ignore[abstract,arg-type]


def test_a_caller_cannot_be_changed_once_known() -> None:
    """Who is asking is settled by authentication; nothing later may rewrite it (a handler
    that swapped the account of a shared Caller would act for someone else)."""
    import dataclasses

    from relay.phone.context import Caller

    caller = Caller("acct_1", "hash", "token")
    with pytest.raises(dataclasses.FrozenInstanceError):
        caller.account_id = "acct_2"  # type: ignore[misc]
    assert caller.account_id == "acct_1"
