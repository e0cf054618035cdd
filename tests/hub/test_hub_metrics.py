"""Prometheus metrics (issue 12, also build): /metrics on hub and relay, with their own token."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from hub.rules import RulesEngine
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices

TOKEN = "metrics-secret-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """name + sorted labels -> value, from the exposition format (parsed by prometheus_client)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_hub_metrics_count_requests_devices_writes_and_refusals(tmp_path: Path) -> None:
    virtual = VirtualIntegration(demo_devices())
    config = {"metrics_token": TOKEN}
    async with running_hub(tmp_path, [virtual], config, components=[RulesEngine()]) as rh:
        await rh.hub.wait_integrations()
        async with httpx.AsyncClient(base_url=rh.url, timeout=10) as anon:
            # Its own auth: no token, or the API's token, is refused; the metrics token works.
            assert (await anon.get("/metrics")).status_code == 401
            api_token = {"Authorization": f"Bearer {rh.token}"}
            assert (await anon.get("/metrics", headers=api_token)).status_code == 401
            for n in range(3):
                r = await rh.client.put(
                    "/api/v1/devices/virtual-lamp/desired", json={"values": {"brightness": n + 5}}
                )
                assert r.status_code == 202
            assert (await rh.client.get("/api/v1/devices/virtual-lamp")).status_code == 200
            assert (await rh.client.get("/api/v1/devices/nope")).status_code == 404
            for _ in range(12):  # wrong pairing codes until the per-address limit says 429
                await anon.post("/api/v1/pair", json={"code": "000000", "client_name": "x"})
            await asyncio.sleep(0.3)  # the virtual device confirms the writes
            r = await anon.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    route = "/api/v1/devices/{device_id}"
    assert got[("homehub_http_requests_total", (("method", "PUT"), ("route", route + "/desired"),
                                                 ("status", "202")))] == 3  # fmt: skip
    assert got[("homehub_http_requests_total",
                (("method", "GET"), ("route", route), ("status", "200")))] == 1  # fmt: skip
    assert got[("homehub_http_requests_total",
                (("method", "GET"), ("route", route), ("status", "404")))] == 1  # fmt: skip
    assert got[("homehub_http_request_seconds_count",
                (("method", "PUT"), ("route", route + "/desired")))] == 3  # fmt: skip
    assert got[("homehub_rejected_by_limit_total", (("limit", "pairing_codes"),))] >= 1
    assert got[("homehub_devices", (("online", "true"),))] == len(demo_devices())
    assert got[("homehub_device_round_trips_total",
                (("integration", "virtual"), ("outcome", "ok")))] >= 1  # fmt: skip
    assert got[("homehub_connections", ())] >= 1
    assert ("homehub_rule_runs_total", ()) in got
    assert ("homehub_desired_pending", ()) in got
    assert not re.search(r"virtual-lamp", r.text), "device ids must not become labels"


async def test_hub_metrics_are_off_without_a_token(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as rh:
        r = await rh.client.get("/metrics")
        assert r.status_code == 404
        assert "metrics token" in r.json()["error"]["message"]
