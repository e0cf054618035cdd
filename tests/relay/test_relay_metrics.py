"""The relay's Prometheus metrics (issue 12, also build): GET /metrics with its own token."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from relay_testkit import linked_hub, running_relay

TOKEN = "relay-metrics-secret-42"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_relay_metrics_count_tunnels_requests_and_refusals(tmp_path: Path) -> None:
    async with running_relay(
        tmp_path / "relay", metrics_token=TOKEN, login_rate=0.001, login_burst=2
    ) as relay, linked_hub(tmp_path / "hub", relay.url), httpx.AsyncClient(
        base_url=relay.url, timeout=10
    ) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = {"email": "nobody@example.org", "password": "not it"}
        statuses = [(await http.post("/v1/sessions", json=wrong)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
        assert (await http.get("/v1/health")).status_code == 200
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
    got = samples(r.text)
    assert got[("homehub_relay_tunnels", ())] == 1
    assert got[("homehub_relay_healthy", ())] == 1
    assert got[("homehub_relay_queued_writes", ())] == 0
    assert got[("homehub_relay_rejected_by_limit_total", (("limit", "login_rate"),))] == 1
    sessions = (("method", "POST"), ("route", "/v1/sessions"))
    assert got[("homehub_relay_http_requests_total", (*sessions, ("status", "401")))] == 2
    assert got[("homehub_relay_http_requests_total", (*sessions, ("status", "429")))] == 1
    assert got[("homehub_relay_http_request_seconds_count", sessions)] == 3


async def test_relay_metrics_are_off_without_a_token(tmp_path: Path) -> None:
    async with running_relay(tmp_path / "relay") as relay, httpx.AsyncClient(
        base_url=relay.url
    ) as http:
        assert (await http.get("/metrics")).status_code == 404
