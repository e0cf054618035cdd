"""The phone app end to end, in real headless Chromium at 390x844, in Japanese and in English.

Against a real relay, a real hub dialling out to it and an emulated ECHONET Lite node over UDP
(phone_home.py), a person signs up and signs in through the relay-served app, claims the hub
with its code, turns the air conditioner on (the emulated unit changes, the page follows a
change made at the unit), then the hub dies: the page shows the last-known state with its age,
a command sent now is shown pending with its time-to-live and is applied exactly once when the
hub comes back (the homes list meanwhile says "offline, last seen ..."). Then the energy,
automations and homes screens, and the person signs out: the session is gone. A command that
waits longer than its time-to-live is shown expired and never reaches the unit.

Screenshots of each main screen go to $HOMEHUB_SCREENSHOTS (default: the test's temp dir).
Addresses 127.0.21.x (see phone_home.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from phone_home import AIRCON_OFF, AIRCON_ON, OWNER, PhoneHome, bearer_login, phone_home
from phone_kit import PhonePage, claim_in_app, open_phone, sign_in, text
from relay_testkit import PASSWORD, eventually

pytestmark = pytest.mark.slow

QUEUE_TTL_S = 600.0  # the relay's time-to-live for writes queued while the hub is away
SHORT_TTL_S = 3.0  # ... and one short enough to run out while the test waits
POWER = 0x80
SET_POINT = 0xB3

# What Intl.RelativeTimeFormat(numeric: "auto") says for a few seconds or minutes ago.
AGO = {
    "en": r"(now|\d+ seconds? ago|\d+ minutes? ago|1 minute ago)",
    "ja": r"(今|\d+ 秒前|\d+ 分前)",
}


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path, allow_signup=True, queue_ttl_s=QUEUE_TTL_S) as running:
        yield running


@pytest.fixture
async def short_queue_home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path, queue_ttl_s=SHORT_TTL_S) as running:
        yield running


def pattern(language: str, key: str, **values: str) -> re.Pattern[str]:
    """The catalogue text of `key` as a regex, with {placeholders} given as regexes."""
    parts = re.split(r"(\{\w+\})", text(language, key))
    out = []
    for part in parts:
        name = part[1:-1] if part.startswith("{") and part.endswith("}") else None
        out.append(values[name] if name is not None else re.escape(part))
    return re.compile("".join(out))


def record_writes(unit: Any) -> list[tuple[int, bytes]]:
    """Every Set the emulated unit accepts, in order (the unit is ours: it is the test device)."""
    seen: list[tuple[int, bytes]] = []
    accept = unit.write

    def write(epc: int, edt: bytes) -> bool:
        ok: bool = accept(epc, edt)
        if ok:
            seen.append((epc, bytes(edt)))
        return ok

    unit.write = write
    return seen


async def sign_up(phone: PhonePage, language: str, email: str) -> None:
    """Create an account from the sign-in screen; the app signs in and lists the homes."""
    page = phone.page
    await page.get_by_role("button", name=text(language, "signin.toSignUp")).click()
    await page.locator("form.signin h2").filter(has_text=text(language, "signup.title")).wait_for()
    await page.get_by_label(text(language, "signin.email")).fill(email)
    await page.get_by_label(text(language, "signin.password")).fill(PASSWORD)
    form = page.locator("form.signin")
    await form.get_by_role("button", name=text(language, "signup.submit"), exact=True).click()
    await page.get_by_role("heading", name=text(language, "hubs.title")).first.wait_for()


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
async def test_sign_in_control_offline_queue_and_sign_out(
    browser: Any, home: PhoneHome, screenshots: Path, locale: str
) -> None:
    lang = locale[:2]
    aircon_id = await home.aircon_id()
    unit = home.aircon
    writes = record_writes(unit)
    assert unit.values[POWER] == AIRCON_OFF

    # --- Sign up, sign out, sign in again: the relay-served app ---
    phone = await open_phone(browser, home.relay.url + "/", locale=locale)
    page = phone.page
    form = page.locator("form.signin")
    await form.wait_for()
    assert await page.get_attribute("html", "lang") == lang
    # Visible text in the browser's language, not just a catalogue entry.
    await form.locator("h2").filter(has_text=text(lang, "signin.title")).wait_for()
    if lang == "ja":
        assert await form.locator("h2").inner_text() == "ログイン"
        assert await page.get_by_label("メールアドレス").is_visible()
    await phone.shot(screenshots, f"01-signin-{lang}")
    email = f"person-{lang}@example.org"
    await sign_up(phone, lang, email)
    await page.get_by_text(text(lang, "hubs.none")).wait_for()
    await page.locator("#sign-out").click()
    await form.wait_for()
    await sign_in(phone, lang, email)

    # --- Claim the hub with the code it shows; its home opens ---
    await claim_in_app(phone, lang, await home.claim_code())
    ac = page.locator(f'article.device-card[data-device-id="{aircon_id}"]')
    await ac.wait_for()
    await page.get_by_role("heading", name=text(lang, "home.title")).wait_for()
    if lang == "ja":
        assert await page.locator("header h1").inner_text() == "ホーム"
        assert await page.locator("nav.tabs").get_by_text("設定").is_visible()
    summary = ac.locator('[data-role="summary"]')
    await summary.filter(has_text=text(lang, "state.off")).wait_for()
    await phone.shot(screenshots, f"02-home-{lang}")

    # --- Turn the air conditioner on: the unit changes, the card shows what the unit reports ---
    ac_name = await name_of(ac)
    switch = ac.get_by_role("switch", name=text(lang, "control.powerOf", name=ac_name))
    await switch.click()
    await eventually(lambda: unit.values[POWER] == AIRCON_ON, what="the unit turned on")
    await summary.filter(has_text=text(lang, "choice.cool")).wait_for()
    assert await switch.get_attribute("aria-checked") == "true"
    # A change made at the unit itself (its remote) reaches the page through the relay.
    await home.node.change(unit, SET_POINT, bytes([24]))
    await summary.filter(has_text=text(lang, "aircon.setTo", value="24")).wait_for()
    assert writes.count((POWER, AIRCON_ON)) == 1

    # The device screen: every control for the unit.
    await ac.locator("a.card-link").click()
    await page.locator(".hero-value").wait_for()
    await page.get_by_role("heading", name=ac_name).first.wait_for()
    await phone.shot(screenshots, f"03-device-{lang}")
    await page.go_back()
    await ac.wait_for()

    # --- The hub dies: last-known state with its age ---
    await home.stop_hub()
    banner = page.locator("#offline-banner")
    await banner.filter(has_text=text(lang, "banner.hubOffline")).wait_for()
    await banner.filter(has_text=pattern(lang, "banner.lastKnown", age=AGO[lang])).wait_for()
    await page.locator("article.device-card.stale").first.wait_for()
    await summary.filter(has_text=text(lang, "choice.cool")).wait_for()  # still the last state
    # The homes list (another tab of the same phone) says offline, last seen how long ago.
    other = await phone.context.new_page()
    await other.goto(home.relay.url + "/#/hubs")
    await (
        other.locator("a.row.hub")
        .filter(has_text=pattern(lang, "hubs.lastSeen", age=AGO[lang]))
        .wait_for()
    )
    await other.close()

    # A command sent now waits in the relay's queue, shown with its time-to-live.
    await switch.click()
    queued = page.locator('#pending li.queue-item[data-status="queued"]')
    await queued.wait_for()
    ttl = r"(9|10):[0-5]\d"  # QUEUE_TTL_S = 10 minutes, counting down as M:SS
    await (
        queued.locator(".status")
        .filter(has_text=pattern(lang, "pending.timeLeft", left=ttl))
        .wait_for()
    )
    await ac.locator(".flag.pending").filter(has_text=text(lang, "device.waiting")).wait_for()
    await page.evaluate("window.scrollTo(0, 0)")  # the banner and the pending list
    await phone.shot(screenshots, f"04-offline-pending-{lang}")
    assert unit.values[POWER] == AIRCON_ON  # nothing reached the unit
    assert (POWER, AIRCON_OFF) not in writes

    # --- The hub returns: the queued command is applied, once ---
    await home.start_hub()
    await eventually(lambda: unit.values[POWER] == AIRCON_OFF, what="the queued write applied")
    applied = page.locator('#pending li.queue-item[data-status="delivered"]')
    await applied.filter(has_text=text(lang, "pending.delivered")).wait_for()
    await banner.wait_for(state="detached")
    await summary.filter(has_text=text(lang, "state.off")).wait_for()
    assert writes.count((POWER, AIRCON_OFF)) == 1, writes
    assert writes.count((POWER, AIRCON_ON)) == 1, writes
    await phone.shot(screenshots, f"05-back-online-{lang}")

    # --- The other main screens: energy (tiles and the 24-hour chart), automations, homes ---
    tabs = page.locator("nav.tabs")
    await page.locator("#toast").wait_for(state="hidden")  # "queued" said, now gone
    await tabs.get_by_role("link", name=text(lang, "nav.energy")).click()
    await page.locator("#energy-tiles article.energy-tile").first.wait_for()
    await (
        page.locator("#energy-chart figcaption")
        .filter(has_text=text(lang, "energy.chartTitle"))
        .wait_for()
    )
    await phone.shot(screenshots, f"06-energy-{lang}")
    await tabs.get_by_role("link", name=text(lang, "nav.automations")).click()
    await page.get_by_role("heading", name=text(lang, "rules.title")).wait_for()
    await page.get_by_role("heading", name=text(lang, "scenes.title")).wait_for()
    await phone.shot(screenshots, f"07-automations-{lang}")
    await tabs.get_by_role("link", name=text(lang, "nav.settings")).click()
    await page.get_by_role("link", name=text(lang, "settings.allHubs")).click()
    hub_row = page.locator("a.row.hub")
    await hub_row.filter(has_text=text(lang, "hubs.online")).wait_for()
    await phone.shot(screenshots, f"08-homes-{lang}")
    await hub_row.click()
    await ac.wait_for()

    # --- Sign out from the settings; the session cookie no longer opens anything ---
    await tabs.get_by_role("link", name=text(lang, "nav.settings")).click()
    await page.get_by_role("heading", name=text(lang, "settings.title")).wait_for()
    await phone.shot(screenshots, f"09-settings-{lang}")
    await page.get_by_role("button", name=text(lang, "settings.signOut")).click()
    await form.wait_for()
    await page.reload()
    await form.wait_for()
    answer = await page.request.get(home.relay.url + "/v1/hubs")
    assert answer.status == 401, await answer.text()
    assert writes.count((POWER, AIRCON_OFF)) == 1, writes  # still once
    assert phone.errors == []
    await phone.close()


async def name_of(card: Any) -> str:
    """The device's name as the card shows it (the user's own name, never translated)."""
    return str(await card.locator(".device-name").inner_text())


async def test_a_command_queued_too_long_expires_and_is_never_applied(
    browser: Any, short_queue_home: PhoneHome, screenshots: Path
) -> None:
    home = short_queue_home
    aircon_id = await home.aircon_id()
    unit = home.aircon
    writes = record_writes(unit)
    hub_id = await home.relay.claim(OWNER, PASSWORD, await home.claim_code())
    phone = await open_phone(browser, home.relay.url + "/", locale="en-US")
    page = phone.page
    await page.locator("form.signin").wait_for()
    await sign_in(phone, "en", OWNER)
    await page.locator(f'a.hub[data-hub-id="{hub_id}"]').click()
    ac = page.locator(f'article.device-card[data-device-id="{aircon_id}"]')
    await ac.wait_for()

    await home.stop_hub()
    await page.locator("#offline-banner").wait_for()
    await ac.get_by_role("switch").click()
    queued = page.locator('#pending li.queue-item[data-status="queued"]')
    await (
        queued.locator(".status")
        .filter(has_text=pattern("en", "pending.timeLeft", left=r"0:0[0-3]"))
        .wait_for()
    )
    # Wait until the relay's own expiry time for it has passed (its queue says when).
    token = await bearer_login(home.relay.url, OWNER)
    async with httpx.AsyncClient(
        base_url=home.relay.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as api:
        [item] = (await api.get(f"/v1/hubs/{hub_id}/queue")).json()["queue"]
    await eventually(
        lambda: time.time() > item["expires_at"] + 0.1, timeout=SHORT_TTL_S + 10, what="expiry"
    )

    await home.start_hub()
    expired = page.locator('#pending li.queue-item[data-status="expired"]')
    await expired.filter(has_text=text("en", "pending.expired")).wait_for()
    await page.locator("#offline-banner").wait_for(state="detached")
    await phone.shot(screenshots, "10-queued-expired-en")
    assert unit.values[POWER] == AIRCON_OFF
    assert (POWER, AIRCON_ON) not in writes, writes
    assert phone.errors == []
    await phone.close()
