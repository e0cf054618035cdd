"""Hub start times and memory: a first start, and warm restarts with 500 stored devices.

Prints, as `name: value` lines:
  first_start_s  from spawning `homehub hub` on an empty data folder (it makes its identity
                 key, database and schema) to the first answer of /api/v1/health
  warm_restart_s from spawning `homehub hub` on a filled folder that was started before (the
                 database is migrated and in the OS page cache) to the first successful
                 authenticated API response listing all stored devices (target <= 0.5 s)
  rss_mb         resident memory of that hub process right after (target <= 60 MB, in
                 millions of bytes)
  import_s       of which: a bare `python -c "import hub.app"` (interpreter + imports)
  warm_restart_with_rules_s, rss_with_rules_mb
                 the same with 5,000 rules stored as well (target <= 75 MB)
The database is filled beforehand through the real registry and rule engine (500 virtual
devices with reported values; then also 5,000 rules, each with a state trigger, a numeric
condition and a set action), then `homehub hub` is started with no integration, so the
figures are the store, rules and API alone. Median of several runs; --quick: one run with
1,000 rules (CI keeps the bench from rotting). The hub listens on a free port. Python's
bytecode cache is on for the hub processes, as on an installed hub, even where the
environment turns it off (PYTHONDONTWRITEBYTECODE).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
# The checkout first: bench/ is sys.path[0] and its relay.py would shadow the relay package.
sys.path.insert(0, str(ROOT))

from hub.app import Hub  # noqa: E402
from hub.config import HubConfig  # noqa: E402
from hub.model import spec_for  # noqa: E402
from hub.rules.engine import RulesEngine  # noqa: E402
from hub.rules.model import Rule  # noqa: E402
from integrations.virtual import VirtualDevice, VirtualIntegration  # noqa: E402

DEVICES = 500
RULES = 5000
RUNS = 5


def free_port() -> int:
    """A port nobody listens on now (the hub binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def fill(data_dir: Path, with_rules: bool, rule_count: int = RULES) -> str:
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
        for i in range(rule_count)
    ]
    if with_rules:
        await engine.save_many(rules)
    else:
        rules = []
    stored = await hub.db.fetchone("SELECT COUNT(*) FROM rules")
    if stored is None or stored[0] != len(rules):
        raise SystemExit(f"expected {len(rules)} stored rules, found {stored}")
    await hub.stop()
    return token


# Python's bytecode cache on, as on an installed hub (pip compiles at install; an editable
# checkout writes it on the first import). An environment that turns it off
# (PYTHONDONTWRITEBYTECODE, set on some CI machines) would make every start compile every
# module again: about a quarter of a second here, which is Python's, not the hub's.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _warm_bytecode() -> None:
    """Write the bytecode cache of everything a hub start imports (once, untimed)."""
    subprocess.run([sys.executable, "-c", "import hub.cli.main, hub.app"], env=ENV, check=True)


def _spawn(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
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
            str(port),
            "--no-mdns",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def _exited(proc: subprocess.Popen[str], port: int) -> SystemExit:
    err = proc.stderr.read() if proc.stderr else ""
    return SystemExit(f"the hub exited ({proc.returncode}) before answering on "
                      f"127.0.0.1:{port}:\n{err[-2000:]}")


def first_start() -> float:
    """Seconds from spawning a hub on an empty folder until its health check answers."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        t0 = time.perf_counter()
        proc = _spawn(Path(tmp), port)
        try:
            with httpx.Client(timeout=1) as client:
                while True:
                    try:
                        if client.get(f"http://127.0.0.1:{port}/api/v1/health").status_code == 200:
                            return time.perf_counter() - t0
                    except httpx.HTTPError:
                        pass
                    if proc.poll() is not None:
                        raise _exited(proc, port)
                    if time.perf_counter() - t0 > 30:
                        raise SystemExit(f"the hub did not answer on 127.0.0.1:{port} in 30 s")
                    time.sleep(0.005)
        finally:
            proc.terminate()
            proc.wait(10)


def one_start(data_dir: Path, token: str) -> tuple[float, float]:
    port = free_port()
    t0 = time.perf_counter()
    proc = _spawn(data_dir, port)
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=1) as client:
            while True:
                try:
                    r = client.get(f"http://127.0.0.1:{port}/api/v1/devices")
                    if r.status_code == 200 and len(r.json()["devices"]) == DEVICES:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:  # e.g. the port was taken after all: say so
                    raise _exited(proc, port)
                if time.perf_counter() - t0 > 30:
                    raise SystemExit(f"the hub did not answer on 127.0.0.1:{port} within 30 s")
                time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        rss = psutil.Process(proc.pid).memory_info().rss / 1e6
        return elapsed, rss
    finally:
        proc.terminate()
        proc.wait(10)


def measure(with_rules: bool, rule_count: int, runs: int) -> tuple[float, float]:
    """Median warm restart and RSS of `homehub hub` over a filled data dir (already started
    once by fill(), so every run here is a restart)."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token = asyncio.run(fill(data_dir, with_rules, rule_count))
        starts, rss = zip(*(one_start(data_dir, token) for _ in range(runs)), strict=True)
    return statistics.median(starts), statistics.median(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run, 1,000 rules")
    args = parser.parse_args()
    runs, rule_count = (1, 1000) if args.quick else (RUNS, RULES)
    _warm_bytecode()
    first = statistics.median(first_start() for _ in range(runs))
    start, rss = measure(False, rule_count, runs)
    start_rules, rss_rules = measure(True, rule_count, runs)
    imports = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import hub.app"], env=ENV, check=True)
        imports.append(time.perf_counter() - t0)
    print(f"devices: {DEVICES}")
    print(f"first_start_s: {first:.3f}")
    print(f"warm_restart_s: {start:.3f}")
    print(f"rss_mb: {rss:.1f}")
    print(f"rules: {rule_count}")
    print(f"warm_restart_with_rules_s: {start_rules:.3f}")
    print(f"rss_with_rules_mb: {rss_rules:.1f}")
    print(f"import_s: {statistics.median(imports):.3f}")


if __name__ == "__main__":
    main()
