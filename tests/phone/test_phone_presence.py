"""Presence from the phone app (relay-served, headless Chromium at 390x844, Japanese): "I'm home"
reaches the hub's presence; then the phone's position (the browser's geolocation, allowed by
the person) 1 km from the home's location says "away", which the hub's presence rule acts on:
the air conditioner goes off at the emulated unit.

Addresses 127.0.21.x (see phone_home.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from phone_home import AIRCON_OFF, AIRCON_ON, OWNER, PhoneHome, phone_home
from phone_kit import open_phone, sign_in, text
from relay_testkit import PASSWORD, eventually

pytestmark = pytest.mark.slow

HOME = {"latitude": 35.6812, "longitude": 139.7671}  # Tokyo Station
ONE_KM_NORTH = {"latitude": HOME["latitude"] + 0.009, "longitude": HOME["longitude"]}
RADIUS_M = 200.0
PERSON = OWNER.split("@")[0]  # the app suggests the e-mail's name


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    config = {**HOME, "home_radius_m": RADIUS_M}
    async with phone_home(tmp_path, hub_config=config) as running:
        yield running


async def hub_presence(home: PhoneHome) -> dict[str, Any]:
    assert home.hub is not None
    r = await home.hub.client.get("/api/v1/presence")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_im_home_and_location_away_reach_the_hubs_presence_rules(
    browser: Any, home: PhoneHome, screenshots: Path
) -> None:
    assert home.hub is not None
    aircon_id = await home.aircon_id()
    unit = home.aircon
    hub_id = await home.relay.claim(OWNER, PASSWORD, await home.claim_code())
    rule = {
        "id": "left_home",
        "name": "Left home",
        "triggers": [{"type": "presence", "person": PERSON, "to": "away"}],
        "actions": [{"type": "set", "device": aircon_id, "values": {"power": False}}],
    }
    r = await home.hub.client.post("/api/v1/rules", json=rule)
    assert r.status_code == 201, r.text
    r = await home.hub.client.put(
        f"/api/v1/devices/{aircon_id}/desired", json={"values": {"power": True}}
    )
    assert r.status_code in (200, 202), r.text
    await eventually(lambda: unit.values[0x80] == AIRCON_ON, what="the aircon on before")

    phone = await open_phone(browser, home.relay.url + "/", locale="ja-JP")
    page = phone.page
    await phone.context.grant_permissions(["geolocation"], origin=home.relay.url)
    await phone.context.set_geolocation({**HOME, "accuracy": 20})
    await page.locator("form.signin").wait_for()
    await sign_in(phone, "ja", OWNER)
    await page.locator(f'a.hub[data-hub-id="{hub_id}"]').click()
    await page.locator("article.device-card").first.wait_for()
    await page.locator("a.chip").filter(has_text=text("ja", "presence.title")).click()
    await page.get_by_role("heading", name=text("ja", "presence.title")).first.wait_for()
    assert await page.get_by_label(text("ja", "presence.person")).input_value() == PERSON

    # "I'm home" (家にいます) from the phone: the hub's presence says so, and the page lists it.
    await page.get_by_role("button", name=text("ja", "presence.imHome")).click()
    await page.locator("#toast").filter(has_text=text("ja", "presence.saidHome")).wait_for()
    await eventually(
        lambda: _is(hub_presence(home), PERSON, True), what="the hub knowing the person is home"
    )
    row = page.locator(f'#people li[data-person="{PERSON}"]')
    await row.filter(has_text=text("ja", "presence.atHome")).wait_for()
    assert unit.values[0x80] == AIRCON_ON

    # The phone's position, 1 km away (the home's radius is 200 m): away, and the rule runs.
    await phone.context.set_geolocation({**ONE_KM_NORTH, "accuracy": 20})
    await page.get_by_role("button", name=text("ja", "presence.useLocation")).click()
    distance = re.compile(r"1[,.]?0\d\d\s?m")  # ~1,001 m, as the locale writes it
    await page.locator("#geo-result").filter(has_text=distance).wait_for()
    await (
        page.locator("#geo-result")
        .filter(has_text=text("ja", "presence.outsideRadius", distance="X").split("X")[-1])
        .wait_for()
    )
    await row.filter(has_text=text("ja", "presence.away")).wait_for()
    await eventually(
        lambda: _is(hub_presence(home), PERSON, False), what="the hub knowing the person left"
    )
    await eventually(lambda: unit.values[0x80] == AIRCON_OFF, what="the presence rule's set")
    await phone.shot(screenshots, "31-presence-away-ja")
    assert phone.errors == []
    await phone.close()


async def _is(presence: Any, person: str, at_home: bool) -> bool:
    people = (await presence)["people"]
    return person in people and people[person]["home"] is at_home
