"""A hub pays only for what its config and data use (the small-board budget, issue #19).

Checked in a fresh interpreter: the test process has imported everything long before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Loaded only when used: mDNS, the relay link and its crypto, backup archives and their
# encryption, YAML rule files, cron and sun schedules, Prometheus (only with a metrics token).
HEAVY = (
    "prometheus_client",
    "zeroconf",
    "cryptography",
    "pyrage",
    "hub.relay_link",
    "tarfile",
    "zstandard",
    "yaml",
    "croniter",
    "astral",
)

SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from hub.app import Hub
from hub.components import default_components
from hub.config import HubConfig
from hub.rules import Rule, RulesEngine

HEAVY = json.loads(sys.argv[2])

async def main():
    cfg = HubConfig(data_dir=Path(sys.argv[1]), api_host="127.0.0.1", api_port=0,
                    advertise=False, latitude=35.68, longitude=139.77, timezone="Asia/Tokyo")
    hub = Hub(cfg, components=default_components(cfg))
    await hub.start()
    try:
        seen = {"at_start": [m for m in HEAVY if m in sys.modules]}
        engine = next(c for c in hub.components if isinstance(c, RulesEngine))
        await engine.save(Rule.model_validate({
            "id": "dawn", "triggers": [{"type": "sun", "event": "sunrise"}],
            "actions": [{"type": "event", "name": "morning"}]}))
        seen["after_sun_rule"] = [m for m in HEAVY if m in sys.modules]
    finally:
        await hub.stop()
    print(json.dumps(seen))

asyncio.run(main())
"""


def test_a_hub_without_relay_mdns_backups_or_schedules_loads_none_of_them(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["at_start"] == []
    # A sun rule brings the schedule libraries (loaded off the event loop), nothing else.
    assert sorted(seen["after_sun_rule"]) == ["astral", "croniter"]
