"""Property-based fuzzing of the relay's API from its own OpenAPI document (schemathesis): no
5xx, every answer's status, content type and JSON shape as documented."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from relay_testkit import PASSWORD, running_relay

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance," + (
    "status_code_conformance"
)


@pytest.mark.timeout(300)
async def test_schemathesis_finds_nothing_undocumented(tmp_path: Path) -> None:
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if st is None:
        pytest.skip("schemathesis is not installed (pip install -e .[dev])")
    async with running_relay(
        tmp_path / "relay", allow_signup=True, account_rate=1000.0, account_burst=1000.0
    ) as relay:
        await relay.create_account("fuzz@example.org", PASSWORD)
        token = await relay.login("fuzz@example.org", PASSWORD)
        run = await asyncio.create_subprocess_exec(
            st, "run", f"{relay.url}/v1/openapi.json", "--url", relay.url,
            "--checks", CHECKS, "-H", f"Authorization: Bearer {token}",
            "--max-examples", "10", "--generation-deterministic", "--no-color",
            # WebSockets are not HTTP exchanges; signing out would end the run's session.
            "--exclude-path", "/v1/hub/connect", "--exclude-path", "/v1/hubs/{hub_id}/events",
            "--exclude-operation-id", "delete_v1_sessions_current",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        async with asyncio.timeout(240):
            out = (await run.communicate())[0].decode()
        assert run.returncode == 0, out[-4000:]
        assert " passed" in out and "Server error" not in out, out[-2000:]
        assert (await relay.store.account_by_email("fuzz@example.org")) is not None
