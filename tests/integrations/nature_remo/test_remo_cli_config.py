"""`[integrations.nature_remo]` checking, `homehub sim remo` as a user runs it, and the demo's
Remo (a TV and an AC behind it, a room where a remote is pressed now and then).

Addresses 127.0.0.85-86 belong to this module.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from remo_testkit import RecordingHub, decoded, wait_until

import ir_codes
from integrations.errors import IntegrationError
from integrations.nature_remo import NatureRemoIntegration, Settings, remo_device_id
from integrations.nature_remo.demo import HEARD_BUTTONS, demo_config, demo_remo
from ir_codes.formats import broadlink as bl_format

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("section", "message"), [
    ({"host": ["10.0.0.5"]}, r'unknown key "host" .* did you mean "hosts"\?'),
    ({"pol_interval": 5}, r'did you mean "poll_interval"\?'),
    ({"adopt": "always"}, r'adopt must be "ask" or "auto"'),
    ({"retries": 50}, r"retries must be a whole number from 0 to 10"),
    ({"timeout": 0}, r"timeout must be a number of seconds above 0"),
    ({"hosts": ["10.0.0.5:99999"]}, r"port of Remo 10\.0\.0\.5 must be 1-65535"),
    ({"hosts": [{"port": 80}]}, r"needs a host"),
    ({"devices": [{"name": "TV", "profile": "samsung_tv"}]}, r"needs both 'blaster'"),
])
def test_config_mistakes_are_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(IntegrationError, match=message):
        Settings.from_config(section)


def test_config_reads_hosts_in_every_form() -> None:
    s = Settings.from_config({"hosts": ["10.0.0.5", "10.0.0.6:8080",
                                        {"host": "10.0.0.7", "name": "Remo-1ABCDE"}]})
    assert [(a.host, a.port, a.name) for a in s.hosts] == [
        ("10.0.0.5", 80, None), ("10.0.0.6", 8080, None), ("10.0.0.7", 80, "Remo-1ABCDE")
    ]


def _get(host: str, port: int, header: bool = True) -> tuple[int, str]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/messages", headers={"X-Requested-With": "t"} if header else {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_sim_remo_serves_the_local_api_and_stops_on_ctrl_c() -> None:
    addr = "127.0.0.85"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from hub.cli.main import main; sys.exit(main())",
         "sim", "remo", "--bind", addr, "--port", "0", "--name", "Remo-C0FFEE",
         "--hear-every", "0.2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(rf"Remo-C0FFEE listening on http://{re.escape(addr)}:(\d+) ", line)
        assert found, line + proc.stderr.read() if proc.poll() is not None else line
        port = int(found[1])
        assert "[integrations.nature_remo]" in proc.stdout.readline()
        assert _get(addr, port, header=False)[0] == 400
        for _ in range(50):
            status, text = _get(addr, port)
            if json.loads(text)["data"]:
                break
            time.sleep(0.1)
        assert status == 200 and json.loads(text)["data"], text  # the room's remote was heard
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_sim_remo_on_a_taken_port_says_so() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.86", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from hub.cli.main import main; sys.exit(main())",
             "sim", "remo", "--bind", "127.0.0.86", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"error: cannot listen on 127.0.0.86:{port}"), proc.stdout
    assert "another --bind address or --port" in proc.stdout
    assert "Traceback" not in proc.stderr


async def test_demo_remo_drives_the_packaged_code_sets_and_learns_from_the_room(
    tmp_path: Path,
) -> None:
    remo = demo_remo("127.0.0.86", 0, hear_every=0.3)
    await remo.start()
    hub = RecordingHub(tmp_path)
    integ = NatureRemoIntegration()
    try:
        await integ.setup(hub, demo_config(remo))
        await integ.discover()
        await wait_until(lambda: hub.online.get("study-tv") and hub.online.get("study-ac"),
                         what="the demo IR devices online")
        assert hub.online[remo_device_id(remo.instance)] is True
        await integ.apply_desired("study-tv", {"power": True})
        power_on = ir_codes.decode(bl_format.from_packet(integ.ir_commands("study-tv")["power_on"]))
        assert decoded(remo.sent[-1]) == ("SAMSUNG32", power_on.address, power_on.command)
        await integ.apply_desired("study-ac", {"mode": "cool", "target_temperature": 24})
        brand, state, _ = ir_codes.decode_ac(remo.sent[-1].raw())
        assert (brand, state.mode, state.target_temperature) == ("mitsubishi", "cool", 24)
        learned = ir_codes.decode(bl_format.from_packet(
            await integ.learn(remo_device_id(remo.instance), timeout_s=5)))
        assert (learned.protocol, learned.address) == ("NEC", 0x04)
        assert learned.command in HEARD_BUTTONS.values()
    finally:
        await integ.shutdown()
        await remo.stop()
