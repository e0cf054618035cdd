"""A careless or hostile client against a real hub on loopback (issue 12, points 6 and 8)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from hub.events import CommandResult
from hub.rules import RulesEngine
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB, depth 1,000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.fixture
async def rh(tmp_path: Path):
    virtual = VirtualIntegration(demo_devices())
    async with running_hub(tmp_path, [virtual], components=[RulesEngine()]) as running:
        await running.hub.wait_integrations()
        yield running


async def test_concurrent_retries_with_one_idempotency_key_get_the_replay(rh) -> None:
    async def pair(n: int) -> list[httpx.Response]:
        headers = {"Idempotency-Key": f"pair-{n}"}
        body = {"values": {"brightness": n + 1}}
        return list(
            await asyncio.gather(
                *(
                    rh.client.put(
                        "/api/v1/devices/virtual-lamp/desired", json=body, headers=headers
                    )
                    for _ in range(2)
                )
            )
        )

    pairs = await asyncio.gather(*(pair(n) for n in range(30)))
    for first, second in pairs:
        assert (first.status_code, second.status_code) == (202, 202), second.text
        assert first.json()["command_id"] == second.json()["command_id"]
        assert sorted([first.json()["replayed"], second.json()["replayed"]]) == [False, True]
    assert len(rh.hub.registry._same_key) == 0  # nothing left behind per key


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("POST", "/api/v1/pair", False),
        ("PUT", "/api/v1/devices/virtual-lamp/desired", True),
        ("POST", "/api/v1/rules", True),
        ("POST", "/api/v1/rules/import", True),
        ("POST", "/api/v1/presence", True),
    ],
)
async def test_deeply_nested_json_is_a_400_without_a_traceback(
    rh, caplog: pytest.LogCaptureFixture, body: bytes, method: str, path: str, auth: bool
) -> None:
    caplog.set_level(logging.WARNING)
    client = rh.client if auth else httpx.AsyncClient(base_url=rh.url)
    r = await client.request(method, path, content=body)
    assert r.status_code in (400, 422), r.text
    message = r.json()["error"]["message"]
    assert "nested" in message
    assert not [rec for rec in caplog.records if rec.exc_info], caplog.text
    assert (await client.get("/api/v1/health")).status_code == 200


async def test_superseded_commands_get_a_final_status(rh) -> None:
    results: list[CommandResult] = []
    rh.hub.bus.subscribe(results.append, [CommandResult])
    answers = await asyncio.gather(
        *(
            rh.client.put(
                "/api/v1/devices/virtual-lamp/desired", json={"values": {"brightness": 10 + n}}
            )
            for n in range(20)
        )
    )
    ids = [a.json()["command_id"] for a in answers]
    assert [a.status_code for a in answers] == [202] * 20

    async def statuses() -> dict[str, dict]:
        got = [(await rh.client.get(f"/api/v1/commands/{c}")).json() for c in ids]
        return {c: g for c, g in zip(ids, got, strict=True)}

    final = {"confirmed", "failed", "expired", "superseded"}
    for _ in range(100):
        now = await statuses()
        if all(s["status"] in final for s in now.values()):
            break
        await asyncio.sleep(0.05)
    assert all(s["status"] in final for s in now.values()), now
    superseded = {c: s for c, s in now.items() if s["status"] == "superseded"}
    assert superseded  # a burst of writes to one key: most never reach the device
    for status in superseded.values():
        by = status["reason"].removeprefix("superseded by command ")
        assert by in ids and ids.index(by) > 0, status
    told = {(r.command_id, r.status) for r in results}
    assert all((c, "superseded") in told for c in superseded)


async def test_a_pairing_guesser_does_not_block_the_owner(rh) -> None:
    code = await rh.hub.auth.create_pairing_code()
    guesser = httpx.AsyncClient(
        base_url=rh.url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.3")
    )
    try:
        answers = [
            await guesser.post(
                "/api/v1/pair", json={"code": f"AAAA-{n:04d}", "client_name": "guesser"}
            )
            for n in range(12)
        ]
        assert [a.status_code for a in answers[:10]] == [401] * 10
        assert answers[-1].status_code == 429
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
        # The owner, from another address, pairs at once with the right code.
        owner = httpx.AsyncClient(base_url=rh.url)
        r = await owner.post("/api/v1/pair", json={"code": code, "client_name": "owner"})
        assert r.status_code == 200 and r.json()["token"].startswith("hh_"), r.text
        await owner.aclose()
    finally:
        await guesser.aclose()


@pytest.mark.parametrize("home", [0, 1, "yes", "true", None])
async def test_presence_home_must_be_true_or_false(rh, home: object) -> None:
    r = await rh.client.post("/api/v1/presence", json={"person": "ann", "home": home})
    assert r.status_code == 422, r.text
    assert "home" in r.text
    ok = await rh.client.post("/api/v1/presence", json={"person": "ann", "home": True})
    assert ok.status_code in (200, 202, 204), ok.text


@pytest.mark.parametrize("method", ["TRACE", "PATCH", "DELETE"])
async def test_wrong_method_is_a_405_naming_the_allowed_ones(rh, method: str) -> None:
    # Point 12: the 405 had no Allow header.
    r = await rh.client.request(method, "/api/v1/devices/virtual-lamp/desired")
    assert r.status_code == 405
    assert r.headers["Allow"] == "PUT"
    assert "use PUT" in r.json()["error"]["message"]
