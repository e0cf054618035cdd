"""The desired-write contract over real HTTP, at its boundaries.

Each test here kills a hand-made mutation that the rest of the suite let live: the API ignoring
the `versions` body field, the version check's `>` turned into `>=`, and the Idempotency-Key
length check removed or shifted by one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices

LAMP = "/api/v1/devices/virtual-lamp"
MAX_KEY = 200  # the documented limit (hub/api/handlers.py MAX_IDEMPOTENCY_KEY)


@pytest.fixture
async def rh(tmp_path: Path) -> Any:
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as running:
        await running.hub.wait_integrations()
        yield running


async def _versions(rh: Any) -> dict[str, int]:
    """Per-key versions as a client reads them from the shadow."""
    shadow = (await rh.client.get(f"{LAMP}/shadow")).json()
    keys = set(shadow["reported"]) | set(shadow["desired"])
    out = {}
    for key in keys:
        seen = [part[key]["version"] for part in (shadow["reported"], shadow["desired"])
                if key in part]
        out[key] = max(seen)
    return out


async def test_versions_sent_over_http_are_checked(rh: Any) -> None:
    before = await _versions(rh)
    first = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 40},
                                                          "versions": before})
    assert first.status_code == 202, first.text
    # A second client still holding the old versions is refused, and told what changed.
    stale = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 90},
                                                          "versions": before})
    assert stale.status_code == 409, stale.text
    error = stale.json()["error"]
    assert "brightness changed since you read it" in error["message"]
    assert error["details"]["current_versions"]["brightness"] > before["brightness"]
    shadow = (await rh.client.get(f"{LAMP}/shadow")).json()
    # The refused write left no trace: 40 is still wanted, or already applied.
    where = shadow["desired"] if "brightness" in shadow["desired"] else shadow["reported"]
    assert where["brightness"]["value"] == 40


async def test_the_version_you_read_is_current_not_stale(rh: Any) -> None:
    """Boundary: sending exactly the current version is accepted; one less is refused."""
    await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 30, "power": True}})
    now = await _versions(rh)
    assert now["brightness"] > 0 and now["power"] > 0
    older = await rh.client.put(f"{LAMP}/desired", json={
        "values": {"brightness": 31}, "versions": {"brightness": now["brightness"] - 1}})
    assert older.status_code == 409, older.text
    exact = await rh.client.put(f"{LAMP}/desired", json={
        "values": {"brightness": 32}, "versions": {"brightness": now["brightness"]}})
    assert exact.status_code == 202, exact.text
    # Versions of keys not written are checked too: a stale one refuses the whole write.
    after = await _versions(rh)
    stale_other = {"brightness": after["brightness"], "power": after["power"] - 1}
    refused = await rh.client.put(f"{LAMP}/desired", json={
        "values": {"brightness": 33}, "versions": stale_other})
    assert refused.status_code == 409
    assert "power changed" in refused.json()["error"]["message"]


@pytest.mark.parametrize(("length", "status"), [(0, 422), (1, 202), (MAX_KEY, 202),
                                                (MAX_KEY + 1, 422)])
async def test_idempotency_key_length_limits(rh: Any, length: int, status: int) -> None:
    key = "k" * length
    r = await rh.client.put(f"{LAMP}/desired", json={"values": {"power": True}},
                            headers={"Idempotency-Key": key})
    assert r.status_code == status, r.text
    if status == 422:
        assert f"Idempotency-Key must be 1 to {MAX_KEY} characters" in r.json()["error"]["message"]
    assert (await rh.client.get("/api/v1/health")).status_code == 200


async def test_idempotency_key_replays_and_refuses_a_different_request(rh: Any) -> None:
    headers = {"Idempotency-Key": "retry-7"}
    first = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 55}},
                                headers=headers)
    again = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 55}},
                                headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["command_id"] == first.json()["command_id"]
    other = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 56}},
                                headers=headers)
    assert other.status_code == 409
    assert "already used for a different request" in other.json()["error"]["message"]
    fresh = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 56}},
                                headers={"Idempotency-Key": "retry-8"})
    assert fresh.status_code == 202
    assert fresh.json()["command_id"] != first.json()["command_id"]


async def test_every_accepted_desired_write_answers_a_newer_version(rh: Any) -> None:
    """Clients order writes by the version in the answer: each accepted write is a new one."""
    before = (await rh.client.get(f"{LAMP}/shadow")).json()["version"]
    first = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 61}})
    second = await rh.client.put(f"{LAMP}/desired", json={"values": {"brightness": 62}})
    assert first.status_code == second.status_code == 202
    assert before < first.json()["version"] < second.json()["version"]
