"""The same app served by the hub on the LAN: paired with a one-time code, it turns the air
conditioner on while the relay (the internet side) is stopped.

Addresses 127.0.21.x (see phone_home.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from phone_home import AIRCON_OFF, AIRCON_ON, PhoneHome, phone_home
from phone_kit import open_phone, text
from relay_testkit import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path) as running:
        yield running


async def test_lan_app_pairs_and_controls_with_the_relay_stopped(
    browser: Any, home: PhoneHome, screenshots: Path
) -> None:
    assert home.hub is not None
    aircon_id = await home.aircon_id()
    await home.stop_relay()
    unit = home.aircon
    assert unit.values[0x80] == AIRCON_OFF

    phone = await open_phone(browser, home.hub.url + "/", locale="ja-JP")
    page = phone.page
    await page.get_by_role("heading", name=text("ja", "pair.title")).wait_for()
    await phone.shot(screenshots, "11-lan-pair-ja")
    await page.get_by_label(text("ja", "pair.code")).fill("wrong-code")
    await page.get_by_role("button", name=text("ja", "pair.submit"), exact=True).click()
    await page.locator("#signin-error").filter(has_text=text("ja", "signin.wrong")).wait_for()
    await page.get_by_label(text("ja", "pair.code")).fill(await home.pairing_code())
    await page.get_by_role("button", name=text("ja", "pair.submit"), exact=True).click()

    ac = page.locator(f'article.device-card[data-device-id="{aircon_id}"]')
    await ac.wait_for()
    await ac.get_by_role("switch").click()
    await eventually(lambda: unit.values[0x80] == AIRCON_ON, what="the unit on over the LAN")
    await ac.get_by_role("switch").and_(page.locator('[aria-checked="true"]')).wait_for()
    await phone.shot(screenshots, "12-lan-home-ja")
    # The session is an HttpOnly cookie: nothing in storage but the language, if anything.
    stored = await page.evaluate("Object.keys(localStorage)")
    assert set(stored) <= {"homehub.language"}
    assert "homehub_session" not in await page.evaluate("document.cookie")
    assert phone.errors == []
    await phone.close()
