"""Members of a home in the phone app (relay-served, headless Chromium at 390x844): the owner
(in Japanese) invites another account from Settings, the member (in English) accepts on the
homes screen, sees the home and turns the air conditioner on; a non-member gets 404 and the
app says the home is not theirs; the owner removes the member, whose open page is sent back to
the homes list at once and whose session now gets 404; a second claim of the claimed hub is
refused (409) and the app says why.

Addresses 127.0.21.x (see phone_home.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from phone_home import AIRCON_ON, MEMBER, OWNER, STRANGER, PhoneHome, phone_home
from phone_kit import PhonePage, claim_in_app, open_phone, sign_in, text
from relay_testkit import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path) as running:
        yield running


async def signed_in(browser: Any, home: PhoneHome, locale: str, email: str) -> PhonePage:
    phone = await open_phone(browser, home.relay.url + "/", locale=locale)
    await phone.page.locator("form.signin").wait_for()
    await sign_in(phone, locale[:2], email)
    return phone


async def status_of(phone: PhonePage, url: str) -> int:
    """What the relay answers this browser's session (its cookie) for `url`."""
    return int((await phone.page.request.get(url)).status)


async def test_invite_accept_control_strangers_removal_and_second_claim(
    browser: Any, home: PhoneHome, screenshots: Path
) -> None:
    aircon_id = await home.aircon_id()
    unit = home.aircon

    # The owner claims the hub in the app (Japanese).
    owner = await signed_in(browser, home, "ja-JP", OWNER)
    await claim_in_app(owner, "ja", await home.claim_code())
    await owner.page.locator(f'article.device-card[data-device-id="{aircon_id}"]').wait_for()
    hub_id = home.relay_hub_id
    hub_url = f"{home.relay.url}/v1/hubs/{hub_id}"

    # A stranger (English) sees nothing of it: 404 from the API, "not yours" in the app.
    stranger = await signed_in(browser, home, "en-US", STRANGER)
    assert await status_of(stranger, hub_url) == 404
    assert await status_of(stranger, hub_url + "/devices") == 404
    assert await status_of(stranger, hub_url + "/members") == 404
    await stranger.page.goto(f"{home.relay.url}/#/h/{hub_id}/home")
    await stranger.page.locator("#toast").filter(has_text=text("en", "hubs.gone")).wait_for()
    await stranger.page.get_by_role("heading", name=text("en", "hubs.title")).first.wait_for()
    await stranger.page.get_by_text(text("en", "hubs.none")).wait_for()
    # A second claim of the claimed hub, with a fresh code from the hub, is refused (409).
    r = await stranger.page.request.post(
        home.relay.url + "/v1/hubs/claim",
        data={"code": await home.claim_code()},
        headers={"X-CSRF-Token": await csrf(stranger, home)},
    )
    assert r.status == 409, await r.text()
    await claim_in_app(stranger, "en", await home.claim_code())
    await (
        stranger.page.locator("form.claim .error")
        .filter(has_text=text("en", "claim.taken"))
        .wait_for()
    )
    await stranger.shot(screenshots, "21-second-claim-refused-en")
    assert await status_of(stranger, hub_url) == 404

    # The owner invites the member from Settings.
    page = owner.page
    await page.locator("nav.tabs").get_by_role("link", name=text("ja", "nav.settings")).click()
    invite_form = page.locator("form.invite")
    await invite_form.get_by_label(text("ja", "members.inviteEmail")).fill(MEMBER)
    await invite_form.get_by_role("button", name=text("ja", "members.invite"), exact=True).click()
    await (
        page.locator("li.invited")
        .filter(has_text=MEMBER)
        .filter(has_text=text("ja", "members.invited"))
        .wait_for()
    )
    await owner.shot(screenshots, "22-members-invited-ja")

    # The member accepts on the homes screen and controls the home.
    member = await signed_in(browser, home, "en-US", MEMBER)
    invitation = member.page.locator(".card.invitation").filter(has_text=OWNER)
    await invitation.wait_for()
    await member.shot(screenshots, "23-invitation-en")
    await invitation.get_by_role("button", name=text("en", "invitations.accept")).click()
    ac = member.page.locator(f'article.device-card[data-device-id="{aircon_id}"]')
    await ac.wait_for()
    await ac.get_by_role("switch").click()
    await eventually(lambda: unit.values[0x80] == AIRCON_ON, what="the member's command")
    await ac.locator('[data-role="summary"]').filter(has_text=text("en", "choice.cool")).wait_for()
    assert await status_of(member, hub_url) == 200
    # The owner sees the member (role shown), and the member sees the owner's home as a member.
    row = page.locator("li.member").filter(has_text=MEMBER)
    await page.reload()
    await row.filter(has_text=text("ja", "role.member")).wait_for()
    await owner.shot(screenshots, "24-members-ja")

    # The owner removes the member; the member's open page goes back to the homes list.
    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name=text("ja", "members.remove")).click()
    await row.wait_for(state="detached")
    await member.page.locator("#toast").filter(has_text=text("en", "hubs.gone")).wait_for()
    await member.page.get_by_role("heading", name=text("en", "hubs.title")).first.wait_for()
    await member.page.get_by_text(text("en", "hubs.none")).wait_for()
    assert await status_of(member, hub_url) == 404
    assert await status_of(member, hub_url + "/devices") == 404
    assert await status_of(owner, hub_url) == 200

    for phone in (owner, member, stranger):
        assert phone.errors == []
        await phone.close()


async def csrf(phone: PhonePage, home: PhoneHome) -> str:
    """The session's CSRF token, as the app reads it after signing in."""
    r = await phone.page.request.get(home.relay.url + "/v1/sessions/current")
    assert r.status == 200, await r.text()
    return str((await r.json()).get("csrf", ""))
