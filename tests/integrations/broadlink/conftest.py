"""Every Broadlink test runs under a guard that fails blocking calls made on the event loop from
integrations.broadlink and the shared integrations.ir_devices (blockbuster, scoped to our
packages so other parts' start-up I/O is not judged here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

try:
    from blockbuster import blockbuster_ctx
except ImportError:  # the guard is a dev dependency; without it the tests still run unguarded
    blockbuster_ctx = None


@pytest.fixture(autouse=True)
def no_blocking_in_our_code() -> Iterator[Any]:
    """Fail any blocking call made on the event loop from integrations.broadlink."""
    guard = (
        blockbuster_ctx(["integrations.broadlink", "integrations.ir_devices"])
        if blockbuster_ctx is not None
        else contextlib.nullcontext()
    )
    with guard as bb:
        yield bb
