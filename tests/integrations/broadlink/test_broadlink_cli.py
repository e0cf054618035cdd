"""`homehub sim broadlink` as a user runs it, driven by the real `broadlink` library.

Addresses 127.0.0.33-34 belong to this module.
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import broadlink
import pytest

from integrations.broadlink import cli
from integrations.broadlink.captures import DEMO_CAPTURES
from integrations.broadlink.demo import demo_config, demo_emulator

ROOT = Path(__file__).resolve().parents[3]
ADDR = "127.0.0.33"


def test_register_adds_broadlink_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["broadlink", "--bind", ADDR, "--model", "rmmini3"])
    assert (args.bind, args.port, args.model, args.func) == (ADDR, 80, "rmmini3", cli.run)
    with pytest.raises(SystemExit):
        parser.parse_args(["broadlink", "--bind", ADDR, "--model", "rm9"])


def test_sim_serves_learning_and_stops_on_ctrl_c() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from hub.cli.main import main; sys.exit(main())",
         "sim", "broadlink", "--bind", ADDR, "--port", "0", "--press-after", "0.2",
         "--mac", "34:ea:34:01:02:03"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(rf"listening on udp://{re.escape(ADDR)}:(\d+);", line)
        assert found, line
        assert "34:ea:34:01:02:03" in line
        dev = broadlink.hello(ADDR, port=int(found[1]), timeout=5)
        assert dev.model == "RM4 mini"
        dev.auth()
        learned = []
        for _ in range(2):
            dev.enter_learning()
            for _ in range(100):  # the capture is "pressed" 0.2 s after learning starts
                try:
                    learned.append(dev.check_data())
                    break
                except broadlink.exceptions.ReadError:
                    time.sleep(0.05)  # poll the blocking library, as its users do
        assert learned == list(DEMO_CAPTURES.values())
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_sim_reports_a_bind_failure() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.34", 0))
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from hub.cli.main import main; sys.exit(main())",
             "sim", "broadlink", "--bind", "127.0.0.34", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.34:{port}" in proc.stdout


def test_demo_config_is_accepted_by_the_integration_settings() -> None:
    from integrations.broadlink.integration import Settings

    em = demo_emulator("127.0.0.33", port=8080)
    settings = Settings.from_config(demo_config(em))
    assert settings.hosts == (("127.0.0.33", 8080),)
    assert [d.id for d in settings.devices] == ["living-tv", "bedroom-ac"]


def test_sim_without_bind_listens_on_loopback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from hub.cli.main import main; sys.exit(main())",
         "sim", "broadlink", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on udp://127\.0\.0\.1:(\d+);", line)
        assert found, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        hint = proc.stdout.readline()
        assert f'hosts = ["127.0.0.1:{found[1]}"] under [integrations.broadlink]' in hint
        assert broadlink.hello("127.0.0.1", port=int(found[1]), timeout=5).model
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
