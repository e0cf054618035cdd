"""`--log-format json` (issue 12, also build): one JSON object a line, with request and hub ids."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import httpx
from hub_process import VIRTUAL_CONFIG

from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from integrations.virtual.integration import demo_devices


async def _serve(argv: list[str], ready: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen = []
    while True:  # both print where they serve on stdout; logs go to stderr
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        seen.append(line)
        assert line, "exited before serving:\n" + "".join(seen)
        if m := re.search(ready, line):
            return proc, m.group(1)


async def _json_lines(proc: asyncio.subprocess.Process) -> list[dict[str, object]]:
    proc.terminate()
    # stdout is read to its end too: a full pipe must not block the process as it stops.
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON, or this fails


async def test_hub_json_logs_carry_request_and_hub_ids(tmp_path: Path) -> None:
    (tmp_path / "homehub.toml").write_text(VIRTUAL_CONFIG)
    proc, url = await _serve(
        ["-m", "hub.cli.main", "hub", "--data-dir", str(tmp_path), "--host", "127.0.0.1",
         "--port", "0", "--log-format", "json"],
        r"serving (http://\S+)/api/v1",
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/api/v1/devices/x", headers={"X-Request-ID": "trace-42"})
        assert r.status_code == 401
        assert r.headers["X-Request-ID"] == "trace-42"
        made = (await http.get("/api/v1/health", headers={"X-Request-ID": "bad id {}"})).headers
        assert re.fullmatch(r"[0-9a-f]{16}", made["X-Request-ID"])  # a new id, not the junk
    records = await _json_lines(proc)
    hub_ids = {rec.get("hub_id") for rec in records if rec["logger"] != "asyncio"}
    assert len(hub_ids - {None}) == 1, records
    access = [rec for rec in records if rec["logger"] == "homehub.access"]
    mine = [rec for rec in access if rec.get("request_id") == "trace-42"]
    assert len(mine) == 1, access
    assert mine[0]["route"] == "/api/v1/devices/{device_id}"
    assert mine[0]["status"] == 401
    assert isinstance(mine[0]["duration_ms"], float)


async def test_relay_json_logs_name_the_hub_a_request_is_for(tmp_path: Path) -> None:
    proc, url = await _serve(
        ["-m", "relay", "serve", "--data-dir", str(tmp_path), "--host", "127.0.0.1",
         "--port", "0", "--log-format", "json"],
        r"relay listening on (http://\S+);",
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/v1/hubs/h_abc/devices", headers={"X-Request-ID": "r-7"})
        assert r.status_code == 401
        assert r.headers["X-Request-ID"] == "r-7"
    records = await _json_lines(proc)
    mine = [rec for rec in records if rec.get("request_id") == "r-7"]
    assert [(rec["logger"], rec["hub_id"], rec["status"]) for rec in mine] == [
        ("homehub.access", "h_abc", 401)
    ]


async def test_text_logs_get_no_access_lines(tmp_path: Path, caplog) -> None:
    async with running_hub(tmp_path, [VirtualIntegration(demo_devices())]) as rh:
        await rh.client.get("/api/v1/devices")
    assert not [r for r in caplog.records if r.name == "homehub.access"]
