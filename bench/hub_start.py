"""Hub cold start and memory with 500 stored devices.

Prints, as `name: value` lines:
  cold_start_s   from spawning `homehub hub` to the first successful authenticated API
                 response listing all stored devices (target <= 1 s)
  rss_mb         resident memory of that hub process right after (target <= 100 MB)
  import_s       of which: a bare `python -c "import hub.app"` (interpreter + imports)
  cold_start_with_rules_s, rss_with_rules_mb
                 the same with 5,000 rules stored as well (DESIGN: <= 100 MB RSS)
The database is filled beforehand through the real registry and rule engine (500 virtual
devices with reported values; then also 5,000 rules, each with a state trigger, a numeric
condition and a set action), then `homehub hub` is started with no integration, so the
figures are the store, rules and API alone. Median of several runs.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from hub.app import Hub
from hub.config import HubConfig
from hub.model import spec_for
from hub.rules.engine import RulesEngine
from hub.rules.model import Rule
from integrations.virtual import VirtualDevice, VirtualIntegration

DEVICES = 500
RULES = 5000
RUNS = 5


async def fill(data_dir: Path, with_rules: bool) -> str:
    devices = [
        VirtualDevice(
            f"virtual-{i:04d}",
            f"Device {i}",
            {
                "power": spec_for("power"),
                "brightness": spec_for("brightness"),
                "temperature": spec_for("temperature"),
            },
            {"power": i % 2 == 0, "brightness": i % 100, "temperature": 20.0 + i % 7},
            room=f"Room {i % 12}",
        )
        for i in range(DEVICES)
    ]
    engine = RulesEngine()
    hub = Hub(
        HubConfig(data_dir=data_dir, api_host="127.0.0.1", api_port=0, advertise=False),
        integrations=[VirtualIntegration(devices)],
        components=[engine],
    )
    await hub.start()
    await hub.wait_integrations()
    _, token = await hub.auth.create_token("bench")
    rules = [
        Rule.model_validate(
            {
                "id": f"r{i}",
                "triggers": [
                    {
                        "type": "state",
                        "device": f"virtual-{i % DEVICES:04d}",
                        "property": "temperature",
                    }
                ],
                "conditions": [
                    {
                        "type": "numeric",
                        "device": f"virtual-{i % DEVICES:04d}",
                        "property": "temperature",
                        "above": 25,
                    }
                ],
                "actions": [
                    {
                        "type": "set",
                        "device": f"virtual-{(i + 1) % DEVICES:04d}",
                        "values": {"power": True},
                    }
                ],
            }
        )
        for i in range(RULES)
    ]
    if with_rules:
        await engine.save_many(rules)
    else:
        rules = []
    stored = await hub.db.fetchone("SELECT COUNT(*) FROM rules")
    if stored is None or stored[0] != len(rules):
        raise SystemExit(f"expected {RULES} stored rules, found {stored}")
    await hub.stop()
    return token


def one_start(data_dir: Path, token: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "hub",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "18470",
            "--no-mdns",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=1) as client:
            while True:
                try:
                    r = client.get("http://127.0.0.1:18470/api/v1/devices")
                    if r.status_code == 200 and len(r.json()["devices"]) == DEVICES:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > 30:
                    raise SystemExit("the hub did not answer within 30 s")
                time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        rss = psutil.Process(proc.pid).memory_info().rss / 1e6
        return elapsed, rss
    finally:
        proc.terminate()
        proc.wait(10)


def measure(with_rules: bool) -> tuple[float, float]:
    """Median cold start and RSS of `homehub hub` over a freshly filled data dir."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token = asyncio.run(fill(data_dir, with_rules))
        starts, rss = zip(*(one_start(data_dir, token) for _ in range(RUNS)), strict=True)
    return statistics.median(starts), statistics.median(rss)


def main() -> None:
    start, rss = measure(with_rules=False)
    start_rules, rss_rules = measure(with_rules=True)
    imports = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hub.app"], check=True)
        imports.append(time.perf_counter() - t0)
    print(f"devices: {DEVICES}")
    print(f"cold_start_s: {start:.3f}")
    print(f"rss_mb: {rss:.1f}")
    print(f"rules: {RULES}")
    print(f"cold_start_with_rules_s: {start_rules:.3f}")
    print(f"rss_with_rules_mb: {rss_rules:.1f}")
    print(f"import_s: {statistics.median(imports):.3f}")


if __name__ == "__main__":
    main()
