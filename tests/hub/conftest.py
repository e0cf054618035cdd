"""Hub tests run under blockbuster: a blocking call made on the event loop from hub code fails
the test (scoped to `hub`, so libraries' own start-up I/O is not judged here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from blockbuster import blockbuster_ctx


@pytest.fixture(autouse=True)
def no_blocking_in_hub() -> Iterator[Any]:
    """Fail any blocking call made on the event loop from the hub package."""
    with blockbuster_ctx(["hub"]) as bb:
        yield bb
