"""Backup and restore of a furnished hub: 500 devices, 5,000 rules, 30 days of history.

Prints, as `name: value` lines:
  backup_s      a backup made by the running hub's backup component (online snapshot of the
                database, files, manifest, compressed archive) (target <= 10)
  restore_s     that archive restored into a fresh data folder: every checksum, SQLite's
                integrity check, migration, the swap (target <= 20)
  backup_mb     the archive's size
  db_mb         the database it holds (uncompressed), for scale
  seal_s        encrypting the archive to a recovery key (what an off-site copy adds)
  history_rows  raw samples + 5-minute rollups in the database
The hub is filled through the real registry and rule engine (devices, rules, a 202-acknowledged
command per device); history is written straight into its tables, as the hub's own retention
leaves it after 30 days: each device reported one value every 5 minutes, raw for the last 7
days (history.raw_days) and 5-minute rollups for the 23 before. `--quick` (CI) uses 50 devices,
500 rules and 3 days.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.app import Hub
from hub.backup import RecoveryKey, apply_pending_restore, stage_restore
from hub.backup.sealed import seal
from hub.backup.service import BackupService
from hub.clock import ManualClock
from hub.config import HubConfig
from hub.model import spec_for
from hub.rules.engine import RulesEngine
from hub.rules.model import Rule
from integrations.virtual import VirtualDevice, VirtualIntegration

DAY = 86400.0
STEP = 300.0
RAW_DAYS = 7


def _devices(n: int) -> list[VirtualDevice]:
    return [
        VirtualDevice(
            f"virtual-{i:04d}",
            f"Device {i}",
            {"power": spec_for("power"), "brightness": spec_for("brightness"),
             "temperature": spec_for("temperature")},
            {"power": i % 2 == 0, "brightness": i % 100, "temperature": 20.0 + i % 7},
            room=f"Room {i % 12}",
        )
        for i in range(n)
    ]


def _rule(i: int, devices: int) -> Rule:
    return Rule.model_validate(
        {
            "id": f"r{i}",
            "triggers": [{"type": "state", "device": f"virtual-{i % devices:04d}",
                          "property": "temperature"}],
            "conditions": [{"type": "numeric", "device": f"virtual-{i % devices:04d}",
                            "property": "temperature", "above": 25}],
            "actions": [{"type": "set", "device": f"virtual-{(i + 1) % devices:04d}",
                         "values": {"power": True}}],
        }
    )


def _history(db: Path, devices: int, days: int, now: float) -> int:
    """Write what 30 days of reports leave behind after the hub's own retention."""
    conn = sqlite3.connect(db, timeout=30)
    raw_from = now - min(days, RAW_DAYS) * DAY
    start = now - days * DAY
    rows = 0
    for d in range(devices):  # a transaction per device: the running hub writes too
        with conn:
            dev = f"virtual-{d:04d}"
            t = start
            rollups = []
            while t < raw_from:
                v = 20.0 + (d % 7) + ((t / STEP) % 50) / 10
                rollups.append((dev, "temperature", t, 1, v, v, v))
                t += STEP
            conn.executemany("INSERT INTO history_rollup VALUES(?,?,?,?,?,?,?)", rollups)
            raw = []
            while t < now:
                raw.append((dev, "temperature", t, 20.0 + (d % 7) + ((t / STEP) % 50) / 10))
                t += STEP
            conn.executemany("INSERT INTO history(device_id, prop, ts, value) VALUES(?,?,?,?)",
                             raw)
            rows += len(rollups) + len(raw)
    conn.close()
    return rows


async def main(quick: bool, keep: Path | None) -> None:
    devices, rules, days = (50, 500, 3) if quick else (500, 5000, 30)
    now = time.time()
    with tempfile.TemporaryDirectory(prefix="homehub-bench-backup-") as tmp:
        data = keep or Path(tmp) / "hub"
        cfg = HubConfig(data_dir=data, api_host="127.0.0.1", api_port=0, advertise=False,
                        backup_interval_h=0.0)
        engine = RulesEngine()
        service = BackupService(cfg)
        hub = Hub(cfg, integrations=[VirtualIntegration(_devices(devices))],
                  clock=ManualClock(now), components=[engine, service])
        await hub.start()
        await hub.wait_integrations()
        await engine.save_many([_rule(i, devices) for i in range(rules)])
        for i in range(devices):
            await hub.registry.write_desired(f"virtual-{i:04d}", {"brightness": (i * 7) % 100})
        await hub.auth.create_token("bench")
        history_rows = await asyncio.to_thread(_history, data / "homehub.db", devices, days, now)
        db_mb = (data / "homehub.db").stat().st_size / 1e6

        t0 = time.perf_counter()
        result = await service.create("manual", offsite=False)
        backup_s = time.perf_counter() - t0
        await hub.stop()
        archive = Path(result["file"])
        contents = result["contents"]
        if contents.get("devices") != devices or contents.get("rules") != rules:
            raise SystemExit(f"the archive holds the wrong things: {contents}")

        target = Path(tmp) / "restored"
        t0 = time.perf_counter()
        await asyncio.to_thread(stage_restore, archive, target)
        await asyncio.to_thread(apply_pending_restore, target)
        restore_s = time.perf_counter() - t0
        conn = sqlite3.connect(target / "homehub.db")
        got = conn.execute("SELECT (SELECT COUNT(*) FROM history) + "
                           "(SELECT COUNT(*) FROM history_rollup)").fetchone()[0]
        conn.close()
        if got != contents["history_samples"] or got < history_rows:
            raise SystemExit(f"restored {got} history rows; the backup had "
                             f"{contents['history_samples']}")

        sealed = Path(tmp) / "sealed.age"
        t0 = time.perf_counter()
        seal(archive, sealed, RecoveryKey.generate().public())
        seal_s = time.perf_counter() - t0

    print(f"devices: {devices}")
    print(f"rules: {rules}")
    print(f"history_days: {days}")
    print(f"history_rows: {history_rows}")
    print(f"db_mb: {db_mb:.1f}")
    print(f"backup_s: {backup_s:.2f}")
    print(f"restore_s: {restore_s:.2f}")
    print(f"backup_mb: {archive_mb(result):.1f}")
    print(f"seal_s: {seal_s:.2f}")
    print(f"load_avg_1m: {os.getloadavg()[0]:.2f}")


def archive_mb(result: dict[str, object]) -> float:
    return float(result["size_bytes"]) / 1e6  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small home, for CI")
    parser.add_argument("--keep", type=Path, help="build the hub's data folder here and keep it")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.keep))
