"""The relay's OpenAPI document covers every /v1 route it has; every error it sends is JSON."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from openapi_spec_validator import validate
from relay_testkit import (
    PASSWORD,
    Phone,
    claim_code,
    eventually,
    linked_hub,
    relay_config,
    running_relay,
)

from relay import RelayServer
from relay.openapi import api_routes, route_doc
from relay.voice.oauth import OAuthClient, secret_digest
from relay.voice.service import VoiceRelayServer


def _undocumented(server: RelayServer) -> list[str]:
    app = server.build_app()
    return [f"{m} {path}" for m, path, route in api_routes(app) if route_doc(route) is None]


async def test_every_route_is_in_the_document_and_it_is_valid(tmp_path: Path) -> None:
    # Every /v1 route of a relay, and of one with the voice assistants, carries its @doc.
    plain = RelayServer(relay_config(tmp_path / "plain"))
    voice = VoiceRelayServer(
        relay_config(tmp_path / "voice"),
        [OAuthClient("alexa", ("https://example.org/cb",), secret_digest("s"))],
    )
    for server in (plain, voice):
        assert _undocumented(server) == []
        assert len(api_routes(server.build_app())) >= 25

    async with (
        running_relay(tmp_path / "relay") as relay,
        httpx.AsyncClient(base_url=relay.url) as http,
    ):
        r = await http.get("/v1/openapi.json")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        document = r.json()
    validate(document)  # openapi-spec-validator: the whole document against OpenAPI 3.1
    assert document["openapi"] == "3.1.0"
    paths = document["paths"]
    # What the served document lists is what the app routes, method by method.
    served = {
        (m.upper(), path.replace("{tail:.*}", "{tail}"))
        for m, path, _ in api_routes(RelayServer(relay_config(tmp_path / "x")).build_app())
        if m != "*"
    }
    listed = {(m.upper(), path) for path, ops in paths.items() for m in ops}
    assert served <= listed
    assert "GET" not in {m for m, p in listed if p == "/v1/hubs/claim"}  # no invented routes

    # The phone routes say what they take and give.
    invite = paths["/v1/hubs/{hub_id}/invitations"]["post"]
    assert invite["requestBody"]["content"]["application/json"]["schema"]["required"] == ["email"]
    assert {"201", "403", "404"} <= set(invite["responses"])
    assert invite["security"] == [{"bearer": []}, {"cookie": [], "csrf": []}]
    assert [p["name"] for p in invite["parameters"]] == ["hub_id"]
    members = paths["/v1/hubs/{hub_id}/members"]["get"]["responses"]["200"]
    assert members["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Members"
    }
    assert paths["/v1/push/key"]["get"]["security"] == []
    assert paths["/v1/sessions"]["post"]["security"] == []
    assert "202" in paths["/v1/hubs/{hub_id}/devices/{device_id}/desired"]["put"]["responses"]
    assert "101" in paths["/v1/hubs/{hub_id}/events"]["get"]["responses"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["cookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "homehub_relay_session",
        "description": schemes["cookie"]["description"],
    }
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRF-Token"
    assert schemes["bearer"]["scheme"] == "bearer"
    for name in ("Hub", "Invitation", "Members", "PushSubscription", "Session", "Error"):
        assert name in document["components"]["schemas"], name


async def _raw(port: int, host: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; read one HTTP/1.1 answer (status, headers, body)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
        }
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        return status, headers, body
    finally:
        writer.close()


def _error(body: bytes, status: int) -> str:
    data: dict[str, Any] = json.loads(body)
    assert data["error"]["status"] == status, data
    return str(data["error"]["message"])


async def test_errors_are_json_everywhere_and_the_app_is_still_served(relay: RelayServer) -> None:
    host, port = relay.config.host, relay.port

    def req(line: str, *extra: str, body: bytes = b"") -> bytes:
        head = [line, f"Host: {host}:{port}", "Connection: close", *extra]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    status, headers, body = await _raw(port, host, req("GET /v1/no/such/route HTTP/1.1"))
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert "no such route: GET /v1/no/such/route" in _error(body, 404)
    status, headers, body = await _raw(port, host, req("GET /nothing-here HTTP/1.1"))
    assert status == 404 and "/v1/openapi.json" in _error(body, 404)

    status, headers, body = await _raw(port, host, req("PATCH /v1/hubs HTTP/1.1"))
    assert status == 405 and headers["content-type"].startswith("application/json")
    assert headers["allow"] == "GET,HEAD"
    assert "PATCH is not allowed on /v1/hubs" in _error(body, 405)
    status, headers, body = await _raw(
        port, host, req("PUT /v1/sessions HTTP/1.1", "Content-Length: 0")
    )
    assert status == 405 and headers["allow"] == "POST" and "use POST" in _error(body, 405)

    big = b'{"email": "' + b"a" * (300 * 1024) + b'"}'
    status, headers, body = await _raw(
        port,
        host,
        req(
            "POST /v1/sessions HTTP/1.1",
            "Content-Type: application/json",
            f"Content-Length: {len(big)}",
            body=big,
        ),
    )
    assert status == 413 and headers["content-type"].startswith("application/json")
    assert "256 KiB" in _error(body, 413)

    # A relay error through the same path (guard): JSON as before.
    status, _, body = await _raw(port, host, req("GET /v1/hubs HTTP/1.1"))
    assert status == 401 and "log in first" in _error(body, 401)

    # The phone app is still served under / and /app/...
    async with httpx.AsyncClient(base_url=relay.url) as http:
        page = await http.get("/")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "<html" in page.text.lower()
        assets = [a for a in page.text.split('"') if a.startswith("/app/")]
        assert assets, "the page names no assets"
        asset = await http.get(assets[0])
        assert asset.status_code == 200, assets[0]
        missing = await http.get("/app/v-nope/no-such-file.js")
        assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
        r = await http.post(
            "/v1/sessions", json={"email": "alice@example.org", "password": PASSWORD}
        )
        assert r.status_code == 201


def _resolved(node: Any, schemas: dict[str, Any]) -> Any:
    """A schema with its `$ref`s to components replaced by what they name."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolved(schemas[node["$ref"].rsplit("/", 1)[1]], schemas)
        return {k: _resolved(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(v, schemas) for v in node]
    return node


class _Checker:
    """Validates real answers against what the document says the route answers."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, path: str, response: httpx.Response) -> Any:
        op = self.document["paths"][path][method.lower()]
        documented = op["responses"].get(str(response.status_code))
        assert documented is not None, (method, path, response.status_code, response.text)
        schema = documented["content"]["application/json"]["schema"]
        body = response.json()
        jsonschema.validate(
            body,
            _resolved(schema, self.document["components"]["schemas"]),
            cls=jsonschema.Draft202012Validator,
        )
        self.checked.add((method, path, response.status_code))
        return body


async def test_real_answers_match_the_document(tmp_path: Path, relay: RelayServer) -> None:
    """The phone routes' answers, taken from a real relay and hub, fit their documented shapes."""
    alice = await Phone.login(relay.url, "alice@example.org")
    bob = await Phone.login(relay.url, "bob@example.org")
    try:
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            check = _Checker((await alice.client.get("/v1/openapi.json")).json())
            r = await alice.client.post("/v1/hubs/claim", json={"code": await claim_code(hub)})
            hub_id = check("POST", "/v1/hubs/claim", r)["hub_id"]
            h = "/v1/hubs/{hub_id}"
            check("GET", "/v1/hubs", await alice.client.get("/v1/hubs"))
            check("GET", h, await alice.client.get(f"/v1/hubs/{hub_id}"))
            r = await alice.client.post(
                f"/v1/hubs/{hub_id}/invitations", json={"email": "bob@example.org"}
            )
            invitation = check("POST", h + "/invitations", r)
            check("GET", h + "/members", await alice.client.get(f"/v1/hubs/{hub_id}/members"))
            check("GET", "/v1/invitations", await bob.client.get("/v1/invitations"))
            r = await bob.client.post(f"/v1/invitations/{invitation['id']}/accept")
            check("POST", "/v1/invitations/{invitation_id}/accept", r)
            r = await bob.client.get(f"/v1/hubs/{hub_id}/devices")
            check("GET", h + "/devices", r)
            r = await bob.client.put(
                f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired",
                json={"values": {"power": True}},
            )
            check("PUT", h + "/devices/{device_id}/desired", r)
            check("GET", h + "/queue", await bob.client.get(f"/v1/hubs/{hub_id}/queue"))
            r = await bob.client.post(
                f"/v1/hubs/{hub_id}/invitations", json={"email": "carol@example.org"}
            )
            assert r.status_code == 403
            check("POST", h + "/invitations", r)  # the error shape
            check("GET", "/v1/sessions/current", await bob.client.get("/v1/sessions/current"))
            r = await bob.client.post(
                "/v1/sessions", json={"email": "bob@example.org", "password": PASSWORD}
            )
            check("POST", "/v1/sessions", r)
            r = await bob.client.post(
                "/v1/sessions",
                json={"email": "bob@example.org", "password": PASSWORD, "cookie": True},
            )
            check("POST", "/v1/sessions", r)
            check("GET", "/v1/push/key", await bob.client.get("/v1/push/key"))
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
            point = key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            sub = {
                "endpoint": "https://push.example.org/send/1",
                "keys": {
                    "p256dh": base64.urlsafe_b64encode(point).decode().rstrip("="),
                    "auth": base64.urlsafe_b64encode(b"0123456789abcdef").decode().rstrip("="),
                },
            }
            check(
                "POST",
                "/v1/push/subscriptions",
                await bob.client.post("/v1/push/subscriptions", json=sub),
            )
            check("GET", "/v1/health", await bob.client.get("/v1/health"))
            r = await bob.client.get(f"/v1/hubs/{hub_id}/devices/nope")
            check("GET", h + "/devices/{device_id}", r)  # 404: the error shape
            assert len(check.checked) == 17
        # The hub is gone: a write is queued for it (the other 202 shape).
        await eventually(lambda: not relay.sessions, what="the hub's tunnel to close")
        r = await alice.client.put(
            f"/v1/hubs/{hub_id}/devices/virtual-lamp/desired", json={"values": {"power": False}}
        )
        assert check("PUT", h + "/devices/{device_id}/desired", r)["queued"] is True
        check("GET", h + "/queue", await alice.client.get(f"/v1/hubs/{hub_id}/queue"))
    finally:
        await alice.close()
        await bob.close()
