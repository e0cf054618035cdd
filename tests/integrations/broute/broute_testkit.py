"""Helpers for the B-route tests: an emulated dongle on a pty, a secrets file, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integrations.broute import credentials as creds

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
SPEED = 25.0  # the emulator's delays divided by this: a join takes ~0.3 s instead of ~7 s


def write_secrets(path: Path, rbid: str = RBID, password: str = PASSWORD) -> Path:
    """A secrets file of mode 0600."""
    creds.save(path, creds.Credentials(rbid, password))
    return path


def broute_section(port: Path | str, secrets: Path, **extra: Any) -> dict[str, Any]:
    """An [integrations.broute] section for tests: fast polling and retries."""
    return {
        "port": str(port), "secrets_file": str(secrets), "poll_interval_s": 0.2,
        "timeout_s": 1.0, "retries": 1, "retry_min_s": 0.05, "retry_max_s": 0.2,
        "join_timeout_s": 5.0, **extra,
    }


async def wait_until(cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    """Poll a condition until it is truthy; fail the test with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what or cond}")
        await asyncio.sleep(0.02)
