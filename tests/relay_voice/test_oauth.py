"""Account linking on a real relay over loopback: authorization code + PKCE, refresh, revoke."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from voice_testkit import (
    ALEXA_REDIRECT,
    PASSWORD,
    link_account,
    pkce,
    relay_config,
    voice_clients,
)

from relay.voice.service import VoiceRelayServer

HOST = "127.0.91.5"


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[VoiceRelayServer]:
    """A voice-enabled relay with alice's account."""
    server = VoiceRelayServer(relay_config(tmp_path / "relay", HOST), voice_clients())
    await server.start()
    await server.create_account("alice@example.org", PASSWORD)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(relay: VoiceRelayServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the relay."""
    async with httpx.AsyncClient(base_url=relay.url, timeout=15.0) as c:
        yield c


def _params(**extra: str) -> dict[str, str]:
    _, challenge = pkce()
    base = {"response_type": "code", "client_id": "alexa-skill", "redirect_uri": ALEXA_REDIRECT,
            "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    base.update(extra)
    return {k: v for k, v in base.items() if v}


async def _alexa_directive(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    directive = {"directive": {
        "header": {"namespace": "Alexa.Discovery", "name": "Discover", "payloadVersion": "3",
                   "messageId": "m-1"},
        "payload": {"scope": {"type": "BearerToken", "token": token}}}}
    r = await client.post("/v1/alexa", json=directive)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_link_refresh_rotate_and_revoke(client: httpx.AsyncClient,
                                              relay: VoiceRelayServer) -> None:
    tokens = await link_account(client, "alice@example.org")
    out = await _alexa_directive(client, tokens["access_token"])
    assert out["event"]["header"]["name"] == "Discover.Response"

    r = await client.post("/v1/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "alexa-skill"})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    # Rotation: the old refresh token and its access token are dead.
    r = await client.post("/v1/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "alexa-skill"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    out = await _alexa_directive(client, tokens["access_token"])
    assert out["event"]["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    # That reuse of a rotated refresh token ended the whole grant, the fresh pair included.
    out = await _alexa_directive(client, fresh["access_token"])
    assert out["event"]["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    fresh = await link_account(client, "alice@example.org")

    r = await client.post("/v1/oauth/revoke", data={
        "token": fresh["refresh_token"], "token_type_hint": "refresh_token",
        "client_id": "alexa-skill"})
    assert r.status_code == 200, r.text
    out = await _alexa_directive(client, fresh["access_token"])
    assert out["event"]["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    r = await client.post("/v1/google/fulfillment", json={"requestId": "r", "inputs": [
        {"intent": "action.devices.SYNC"}]}, headers={"Authorization": "Bearer " + fresh[
            "access_token"]})
    assert r.status_code == 401


async def test_expired_access_token(client: httpx.AsyncClient, relay: VoiceRelayServer) -> None:
    tokens = await link_account(client, "alice@example.org")
    for record in relay.voice.tokens.by_access.values():
        record.issued -= 7200  # older than the access-token lifetime
    out = await _alexa_directive(client, tokens["access_token"])
    assert out["event"]["payload"]["type"] == "EXPIRED_AUTHORIZATION_CREDENTIAL"
    r = await client.post("/v1/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": "alexa-skill"})
    assert r.status_code == 200, r.text


async def test_pkce_is_enforced(client: httpx.AsyncClient) -> None:
    # A public client without a challenge gets no code it could redeem.
    params = _params(code_challenge="", code_challenge_method="")
    r = await client.post("/v1/oauth/authorize", params=params,
                          data={"email": "alice@example.org", "password": PASSWORD})
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    r = await client.post("/v1/oauth/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": ALEXA_REDIRECT,
        "client_id": "alexa-skill"})
    assert r.status_code == 400 and "code_verifier" in r.json()["error_description"]
    # "plain" is refused outright.
    r = await client.get("/v1/oauth/authorize", params=_params(code_challenge_method="plain"))
    assert r.status_code == 400
    # A wrong verifier fails, and the code cannot be tried twice.
    params = _params()
    r = await client.post("/v1/oauth/authorize", params=params,
                          data={"email": "alice@example.org", "password": PASSWORD})
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    wrong, _ = pkce()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": ALEXA_REDIRECT,
            "client_id": "alexa-skill", "code_verifier": wrong}
    r = await client.post("/v1/oauth/token", data=form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


async def test_authorize_refusals(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/oauth/authorize",
                         params=_params(redirect_uri="https://evil.example/cb"))
    assert r.status_code == 400 and "location" not in r.headers
    r = await client.get("/v1/oauth/authorize", params=_params(client_id="nobody"))
    assert r.status_code == 400
    r = await client.post("/v1/oauth/authorize", params=_params(),
                          data={"email": "alice@example.org", "password": "wrong password!"})
    assert r.status_code == 401 and "Wrong e-mail or password" in r.text
    r = await client.post("/v1/oauth/authorize", params=_params(), data={"decision": "deny"})
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["location"]).query)["error"] == ["access_denied"]
    r = await client.post("/v1/oauth/token", data={
        "grant_type": "authorization_code", "code": "made-up", "client_id": "google-home",
        "redirect_uri": "x"}, auth=("google-home", "not the secret"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_tokens_are_stored_hashed_and_survive_restart(tmp_path: Path) -> None:
    config = relay_config(tmp_path / "relay", HOST)
    server = VoiceRelayServer(config, voice_clients())
    await server.start()
    try:
        await server.create_account("alice@example.org", PASSWORD)
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as c:
            tokens = await link_account(c, "alice@example.org", alexa=False)
    finally:
        await server.stop()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "relay").glob("voice.sqlite3*"))
    assert tokens["access_token"].encode() not in raw
    assert tokens["refresh_token"].encode() not in raw
    with sqlite3.connect(tmp_path / "relay" / "voice.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM oauth_tokens").fetchone() == (1,)
    server = VoiceRelayServer(config, voice_clients())
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as c:
            r = await c.post("/v1/google/fulfillment", json={"requestId": "r", "inputs": [
                {"intent": "action.devices.SYNC"}]},
                headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert r.status_code == 200, r.text
            assert r.json()["payload"]["devices"] == []
    finally:
        await server.stop()


async def test_accept_grant_and_google_disconnect_through_the_webhooks(tmp_path: Path) -> None:
    from relay.voice import RecordingChangeReportSender

    reports = RecordingChangeReportSender()
    server = VoiceRelayServer(relay_config(tmp_path / "relay", HOST), voice_clients(),
                              reports=reports)
    await server.start()
    try:
        account = await server.create_account("alice@example.org", PASSWORD)
        async with httpx.AsyncClient(base_url=server.url, timeout=15.0) as c:
            alexa_tokens = await link_account(c, "alice@example.org")
            r = await c.post("/v1/alexa", json={"directive": {
                "header": {"namespace": "Alexa.Authorization", "name": "AcceptGrant",
                           "payloadVersion": "3", "messageId": "m-9"},
                "payload": {"grant": {"type": "OAuth2.AuthorizationCode", "code": "lwa-code"},
                            "grantee": {"type": "BearerToken",
                                        "token": alexa_tokens["access_token"]}}}})
            assert r.json()["event"]["header"]["name"] == "AcceptGrant.Response"
            assert reports.grants == [(account, "lwa-code")]

            google = await link_account(c, "alice@example.org", alexa=False)
            auth = {"Authorization": f"Bearer {google['access_token']}"}
            r = await c.post("/v1/google/fulfillment", headers=auth, json={
                "requestId": "r-1", "inputs": [{"intent": "action.devices.DISCONNECT"}]})
            assert r.status_code == 200 and r.json() == {}
            r = await c.post("/v1/google/fulfillment", headers=auth, json={
                "requestId": "r-2", "inputs": [{"intent": "action.devices.SYNC"}]})
            assert r.status_code == 401
            r = await c.post("/v1/oauth/token", data={
                "grant_type": "refresh_token", "refresh_token": google["refresh_token"]},
                auth=("google-home", "google-secret"))
            assert r.status_code == 400
            # Unlinking Google leaves the Alexa link alone.
            r = await c.post("/v1/alexa", json={"directive": {
                "header": {"namespace": "Alexa.Discovery", "name": "Discover",
                           "payloadVersion": "3", "messageId": "m-10"},
                "payload": {"scope": {"type": "BearerToken",
                                      "token": alexa_tokens["access_token"]}}}})
            assert r.json()["event"]["header"]["name"] == "Discover.Response"
    finally:
        await server.stop()


def test_clients_from_settings() -> None:
    from relay.voice.oauth import clients_from_json, secret_digest

    [public, confidential] = clients_from_json([
        {"client_id": "alexa", "redirect_uris": ["https://a/cb"], "name": "Alexa"},
        {"client_id": "g", "redirect_uris": ["https://g/cb"], "secret_sha256": secret_digest("s")},
    ])
    assert public.check_endpoint_auth_method("none", "token")
    assert not public.check_client_secret("")
    assert confidential.check_client_secret("s") and not confidential.check_client_secret("t")
    assert not confidential.check_endpoint_auth_method("none", "token")
    for bad in ({}, {"client_id": "x"}, {"client_id": "x", "redirect_uris": ["u"],
                                          "secret_sha256": "plain-secret"}):
        with pytest.raises(ValueError, match="client"):
            clients_from_json([bad])


async def test_a_revocation_whose_write_failed_is_stored_by_the_next_commit(
    tmp_path: Path,
) -> None:
    """A revoked pair that could not be written must be written by the next commit: else it is
    live again after a restart, and revoking again finds nothing left to revoke."""
    from relay.voice.oauth import TokenRecord, TokenStore

    store = TokenStore(tmp_path / "oauth.db", [])
    await store.open()
    record = TokenRecord("a_hash", "r_hash", "alexa", "acc_1", "smart_home", time.time(), 3600)
    store.add(record)
    await store.commit()
    assert store._db is not None
    await store._db.execute("ALTER TABLE oauth_tokens RENAME TO oauth_tokens_away")
    store.revoke(record)
    with pytest.raises(Exception, match="oauth_tokens"):
        await store.commit()
    assert store.revoke_grant("acc_1", "alexa") == 0  # nothing left to revoke in memory
    await store._db.execute("ALTER TABLE oauth_tokens_away RENAME TO oauth_tokens")
    await store._db.commit()  # the table is back for good
    await store.close()
    with sqlite3.connect(tmp_path / "oauth.db") as conn:
        assert conn.execute("SELECT revoked FROM oauth_tokens").fetchall() == [(1,)]
    again = TokenStore(tmp_path / "oauth.db", [])
    await again.open()
    try:
        assert again.by_access == {}  # it loads live pairs only
    finally:
        await again.close()
