"""`homehub relay serve --oauth-clients` turns the voice webhooks on."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HOMEHUB = [sys.executable, "-m", "hub.cli.main"]


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def test_serve_with_oauth_clients_answers_alexa(tmp_path: Path) -> None:
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps(
        [{"client_id": "alexa", "redirect_uris": ["https://example.org/link"]}]
    ))
    host = "127.0.0.93"
    port = _free_port(host)
    proc = subprocess.Popen(
        [*HOMEHUB, "relay", "serve", "--host", host, "--port", str(port),
         "--data-dir", str(tmp_path / "relay"), "--oauth-clients", str(clients)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(f"http://{host}:{port}/v1/alexa", json={}, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "relay did not start"
                time.sleep(0.1)
        event = r.json()["event"]
        assert event["header"]["name"] == "ErrorResponse"
        assert event["payload"]["type"] == "INVALID_AUTHORIZATION_CREDENTIAL"
    finally:
        proc.terminate()
        proc.wait(30)


def test_bad_oauth_clients_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "clients.json"
    bad.write_text(json.dumps([{"client_id": "x"}]))
    out = subprocess.run(
        [*HOMEHUB, "relay", "serve", "--data-dir", str(tmp_path), "--oauth-clients", str(bad)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2
    assert "redirect_uris" in out.stderr
    assert "Traceback" not in out.stderr
