"""Fixtures for the phone app suites: headless Chromium (Debian's, never a downloaded one) at a
phone's viewport, and a folder for the screenshots a person can open afterwards.

Without Playwright or Chromium the browser tests skip with the reason, unless
HOMEHUB_REQUIRE_BROWSER=1 (CI sets it), where they fail instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# Reuse the relay suites' helpers (relay_testkit) rather than duplicating them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "relay"))

CHROMIUM = os.environ.get("HOMEHUB_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 390, "height": 844}


def _browser_missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HOMEHUB_CHROMIUM)"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium, closed after the test."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("HOMEHUB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HOMEHUB_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests write screenshots: $HOMEHUB_SCREENSHOTS, or a temp folder."""
    chosen = os.environ.get("HOMEHUB_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
