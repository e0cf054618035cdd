"""Backups in the phone app (relay-served, headless Chromium at 390x844): Settings shows that
the hub has no backup yet and when the scheduled one is due; "Back up now" starts one through
the relay's proxy, the progress shows while it runs (the hub's "backup" events, through the
relay), and the result appears with its time, size and where it is kept; the hub really has the
new archive. Then the same section in English.

Addresses 127.0.21.x (see phone_home.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from phone_home import OWNER, PhoneHome, phone_home
from phone_kit import open_phone, sign_in, text
from relay_testkit import PASSWORD

pytestmark = pytest.mark.slow

# Records, from before the button is pressed, every text the progress line shows and whether
# the bar was ever visible: a small backup can finish between two of the test's looks.
WATCH_PROGRESS_JS = """() => {
  window.__backupSeen = { visible: false, texts: [], values: [] };
  const box = document.querySelector(".backup-running");
  const look = () => {
    const seen = window.__backupSeen;
    if (!box.hidden) seen.visible = true;
    const line = document.getElementById("backup-phase").textContent;
    if (line && !seen.texts.includes(line)) seen.texts.push(line);
    seen.values.push(document.getElementById("backup-progress").value);
  };
  new MutationObserver(look).observe(box, { attributes: true, childList: true, subtree: true });
}"""


def pattern(language: str, key: str) -> re.Pattern[str]:
    """The message `key` with any {placeholder} matching some text."""
    parts = re.split(r"(\{\w+\})", text(language, key))
    return re.compile("".join(".+" if p.startswith("{") else re.escape(p) for p in parts))


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path, backups=True) as running:
        yield running


async def test_back_up_now_shows_progress_and_the_result(
    browser: Any, home: PhoneHome, screenshots: Path
) -> None:
    assert home.hub is not None
    hub = home.hub.client
    r = await hub.get("/api/v1/backups")
    assert r.status_code == 200, r.text
    assert r.json()["backups"] == []
    hub_id = await home.relay.claim(OWNER, PASSWORD, await home.claim_code())

    phone = await open_phone(browser, home.relay.url + "/", locale="ja-JP")
    page = phone.page
    await page.locator("form.signin").wait_for()
    await sign_in(phone, "ja", OWNER)
    await page.locator(f'a.hub[data-hub-id="{hub_id}"]').click()
    await page.locator("article.device-card").first.wait_for()
    await page.locator("nav.tabs").get_by_role("link", name=text("ja", "nav.settings")).click()

    section = page.locator("#backups")
    await section.get_by_role("heading", name=text("ja", "backup.title")).wait_for()
    await section.locator("#backup-last").filter(has_text=text("ja", "backup.never")).wait_for()
    # The first scheduled backup is due a quarter of an hour after the hub started.
    await section.locator("#backup-next").filter(has_text=pattern("ja", "backup.next")).wait_for()
    await page.evaluate(WATCH_PROGRESS_JS)

    button = section.get_by_role("button", name=text("ja", "backup.now"))
    await button.click()
    done = section.locator("#backup-last strong").filter(has_text=pattern("ja", "backup.succeeded"))
    await done.wait_for()
    await section.locator("#backup-last").filter(has_text=pattern("ja", "backup.size")).wait_for()
    # No recovery key is set up, so nothing went off-site; the app says where the backup is.
    await section.locator("#backup-last").filter(has_text=text("ja", "backup.localOnly")).wait_for()
    assert await section.locator(".backup-running").is_hidden()
    assert await button.is_enabled()
    seen = await page.evaluate("window.__backupSeen")
    assert seen["visible"], "the progress bar never showed"
    running = pattern("ja", "backup.running")
    assert seen["texts"] and all(running.fullmatch(line) for line in seen["texts"]), seen
    assert any(text("ja", "backup.phase.snapshot") in line for line in seen["texts"]), seen
    assert all(0 <= v <= 1 for v in seen["values"]), seen
    # The time shown is the hub's, in the phone's own time zone (Asia/Tokyo in open_phone).
    r = await hub.get("/api/v1/backups/status")
    last = r.json()["last"]
    assert last["state"] == "succeeded", last
    shown = await page.evaluate(
        "(ts) => new Intl.DateTimeFormat('ja', {dateStyle: 'medium', timeStyle: 'short', "
        "timeZone: 'Asia/Tokyo'}).format(new Date(ts * 1000))",
        last["finished"],
    )
    assert shown in await done.inner_text()
    await phone.shot(screenshots, "15-backup-ja")

    # The hub really has it: one archive, the one the app reported.
    r = await hub.get("/api/v1/backups")
    assert r.status_code == 200, r.text
    backups = r.json()["backups"]
    assert [b["id"] for b in backups] == [last["id"]], backups
    assert last["size_bytes"] > 0

    # The same section in English (the language switch re-renders the screen).
    await page.locator("select[name=language]").select_option("en")
    section = page.locator("#backups")
    await (
        section.locator("#backup-last strong")
        .filter(has_text=pattern("en", "backup.succeeded"))
        .wait_for()
    )
    await section.get_by_role("button", name=text("en", "backup.now")).wait_for()
    assert phone.errors == []
    await phone.close()
