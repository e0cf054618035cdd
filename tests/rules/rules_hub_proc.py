"""A hub process with the rules engine and virtual devices, on the clock in HOMEHUB_CLOCK_FILE.

Usage: python rules_hub_proc.py DATA_DIR '{"heater": {"power": true}}'
Prints one JSON line {"url", "token"} once serving, then runs until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hub.app import Hub  # noqa: E402
from hub.clock import clock_from_env  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.model import spec_for  # noqa: E402
from hub.rules import RulesEngine  # noqa: E402
from integrations.virtual.integration import VirtualDevice, VirtualIntegration  # noqa: E402


async def main(data_dir: Path, values: dict[str, dict[str, object]]) -> None:
    heater = VirtualDevice(
        "heater",
        "Heater",
        {"power": spec_for("power"), "temperature": spec_for("temperature")},
        {"power": False, "temperature": 20.0, **values.get("heater", {})},
    )
    config = HubConfig(data_dir=data_dir, api_host="127.0.0.1", api_port=0, advertise=False)
    hub = Hub(
        config,
        integrations=[VirtualIntegration([heater])],
        clock=clock_from_env(),
        components=[RulesEngine()],
    )
    await hub.start()
    await hub.wait_integrations()
    _, token = await hub.auth.create_token("test")
    print(json.dumps({"url": hub.url, "token": token}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), json.loads(sys.argv[2])))
