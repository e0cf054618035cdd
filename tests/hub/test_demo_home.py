"""`homehub demo` as people use it: two demos on one machine keep apart, a restart with the same
--data-dir works, a device appears after a while for adoption, the ESPHome IR blaster hears a
remote (learning captures), and sensors show plausible, moving values."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from hub.cli.demo_home import demo_addresses

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]


def test_address_blocks_are_reserved_until_released(tmp_path: Path) -> None:
    with demo_addresses(tmp_path) as first, demo_addresses(tmp_path) as second:
        assert first.block != second.block
        assert first.echonet_node != second.echonet_node
        assert {first.echonet_hub, first.late_node} == {"127.0.0.60", "127.0.0.66"}
    with demo_addresses(tmp_path) as again:
        assert again.block == 0  # released when the demo ended


def _start(*extra: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([*HOMEHUB, "demo", "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else ""
    return proc, json.loads(line)


def _until(client: httpx.Client, path: str, cond: Any, what: str, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while True:
        body = client.get(path).json()
        if cond(body):
            return body
        assert time.monotonic() < end, f"no {what}: {body}"
        time.sleep(0.3)


def test_two_demos_a_late_device_ir_learning_and_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first, a = _start("--duration", "60", "--data-dir", str(data))
    second, b = _start("--duration", "60")
    try:
        assert a["emulators"]["echonet"] != b["emulators"]["echonet"]
        for info in (a, b):
            with httpx.Client(base_url=info["hub_url"], timeout=10,
                              headers={"Authorization": f"Bearer {info['token']}"}) as hub:
                devices = hub.get("/api/v1/devices").json()["devices"]
                echonet = [d for d in devices if d["integration"] == "echonet"]
                # each hub drives its own six appliances, not the other demo's
                assert len(echonet) == 6 and all(d["online"] for d in echonet), echonet

        with httpx.Client(base_url=a["hub_url"], timeout=10,
                          headers={"Authorization": f"Bearer {a['token']}"}) as hub:
            devices = {d["name"]: d for d in hub.get("/api/v1/devices").json()["devices"]}
            balcony = devices["Balcony Sensor"]["shadow"]["reported"]
            assert 30 <= balcony["humidity"]["value"] <= 95, balcony

            blaster = devices["Den Ir Blaster"]["id"]
            r = hub.post("/api/v1/ir/learn", json={"blaster_id": blaster, "timeout_s": 15})
            assert r.status_code == 202, r.text
            session = _until(hub, f"/api/v1/ir/learn/{r.json()['session_id']}",
                             lambda s: s["state"] != "waiting", "capture", 20)
            assert session["state"] == "captured", session
            assert session["code"]["protocol"] == "NEC"

            found = _until(hub, "/api/v1/discovered",
                           lambda body: any(d["integration"] == "echonet"
                                            for d in body["discovered"]),
                           "late ECHONET device offered", 40)
            late = next(d for d in found["discovered"] if d["integration"] == "echonet")
            r = hub.post(f"/api/v1/discovered/{late['key']}/adopt",
                         json={"name": "New lamp", "room": "Hall"})
            assert r.status_code == 200, r.text
            _until(hub, "/api/v1/devices",
                   lambda body: any(d["name"] == "New lamp" and d["online"]
                                    for d in body["devices"]), "adopted lamp", 20)
    finally:
        for proc in (first, second):
            proc.terminate()
            proc.wait(30)
    # the same data folder again: the demo account exists, the stored devices are its own
    again = subprocess.run([*HOMEHUB, "demo", "--duration", "1", "--data-dir", str(data)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "phone sees the hub online" in again.stdout
    offline = [line for line in again.stdout.splitlines() if " offline " in line]
    # the adopted lamp is plugged in 20 s after each start: until then it is rightly offline
    assert [line.split()[:2] for line in offline] == [["New", "lamp"]], offline
