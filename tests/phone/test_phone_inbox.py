"""The notifications inbox in the phone app (relay-served, headless Chromium at 390x844): the
person turns notifications on in Settings; a reminder rule on the hub fires and repeats, the
entry appears in the inbox and its repeat count rises live, and the relay pushes it (Web Push,
encrypted and VAPID-signed) to the recording endpoint that stands in for the push service; the
push, handed to the app's service worker, shows as a notification. "Resolve" in the app stops
the repeats and their pushes for good (another reminder keeps firing meanwhile, which is how the
test knows time has passed without sleeping). See push_service.py for the stand-ins.

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
from push_service import PushEndpoint, WorkerPush, push_endpoint
from relay_testkit import PASSWORD, eventually

pytestmark = pytest.mark.slow

EVERY = "1s"  # the hub's clock is real here: short repeats keep the test quick


def reminder(rule_id: str, title: str, event: str) -> dict[str, Any]:
    """A rule that reminds every second (up to 1,000 times) once `event` happens."""
    return {
        "id": rule_id,
        "name": title,
        "triggers": [{"type": "event", "name": event}],
        "actions": [
            {"type": "remind", "title": title, "message": f"{title}!", "every": EVERY, "max": 1000}
        ],
    }


@pytest.fixture
async def home(tmp_path: Path) -> AsyncIterator[PhoneHome]:
    async with phone_home(tmp_path) as running:
        yield running


@pytest.fixture
async def push() -> AsyncIterator[PushEndpoint]:
    async with push_endpoint() as service:
        yield service


async def inbox_entry(home: PhoneHome, rule_id: str) -> dict[str, Any] | None:
    """The rule's inbox entry as the hub keeps it (None until it has sent one)."""
    assert home.hub is not None
    r = await home.hub.client.get("/api/v1/notifications", params={"state": "all"})
    assert r.status_code == 200, r.text
    for entry in r.json()["notifications"]:
        if entry["rule_id"] == rule_id:
            return dict(entry)
    return None


@pytest.mark.parametrize("locale", ["ja-JP", "en-US"])
async def test_reminder_reaches_the_inbox_and_push_and_resolve_stops_it(
    browser: Any, home: PhoneHome, push: PushEndpoint, screenshots: Path, locale: str
) -> None:
    lang = locale[:2]
    assert home.hub is not None
    hub = home.hub.client
    hub_id = await home.relay.claim(OWNER, PASSWORD, await home.claim_code())
    for rule in (
        reminder("door", "Front door open", "door_opened"),
        reminder("kettle", "Kettle on", "kettle_on"),
    ):
        r = await hub.post("/api/v1/rules", json=rule)
        assert r.status_code == 201, r.text

    phone = await open_phone(
        browser,
        home.relay.url + "/",
        locale=locale,
        init_scripts=(push.init_script(),),
        permissions=("notifications",),
    )
    page = phone.page
    worker = await WorkerPush.attach(phone.context, page, home.relay.url)
    await page.locator("form.signin").wait_for()
    await sign_in(phone, lang, OWNER)
    await page.locator(f'a.hub[data-hub-id="{hub_id}"]').click()
    await page.locator("article.device-card").first.wait_for()
    tabs = page.locator("nav.tabs")

    # Notifications on, in Settings: the app subscribes with the relay's VAPID key.
    await tabs.get_by_role("link", name=text(lang, "nav.settings")).click()
    toggle = page.get_by_role("switch", name=text(lang, "push.title"))
    await toggle.click()
    await page.get_by_text(text(lang, "push.on")).wait_for()
    assert await toggle.get_attribute("aria-checked") == "true"
    answer = await page.request.get(home.relay.url + "/v1/push/key")
    assert answer.ok, await answer.text()
    relay_key = await answer.json()
    assert await page.get_attribute("html", "data-push-key") == relay_key["public_key"]
    await tabs.get_by_role("link", name=text(lang, "nav.inbox")).click()
    await page.get_by_role("heading", name=text(lang, "inbox.title")).wait_for()
    await page.get_by_text(text(lang, "inbox.none")).wait_for()

    # Something happens at home: both rules fire and start reminding.
    for event in ("door_opened", "kettle_on"):
        r = await hub.post(f"/api/v1/events/{event}", json={})
        assert r.status_code in (200, 202, 204), r.text
    door = page.locator("li.note").filter(has_text="Front door open")
    await door.wait_for()  # arrives while the inbox is open (the hub's event, via the relay)
    await door.locator(".message").filter(has_text="Front door open!").wait_for()
    await door.filter(has_text=text(lang, "inbox.kind.reminder")).wait_for()
    # It repeats, and the page follows the count without a reload.
    repeated = re.compile(re.escape(text(lang, "inbox.repeated", count="X")).replace("X", r"\d+"))
    await door.filter(has_text=repeated).wait_for()
    # Both reminders are open: the tab's badge says so.
    await tabs.locator("#inbox-badge").filter(has_text="2").wait_for()
    await phone.shot(screenshots, f"13-inbox-{lang}")

    # The relay pushed it: encrypted for this phone, signed with the relay's VAPID key.
    await eventually(lambda: push.messages("Front door open"), what="a push of the reminder")
    first = next(p for p in push.got if p.message["title"] == "Front door open")
    assert first.headers["Content-Encoding"] == "aes128gcm"
    assert first.headers["Authorization"].startswith("vapid t=")
    assert f"k={relay_key['public_key']}" in first.headers["Authorization"]
    message = first.message
    assert (message["body"], message["kind"], message["hub_id"]) == (
        "Front door open!",
        "reminder",
        hub_id,
    )
    # The service worker shows it (the browser hands a push to it), one per reminder thread.
    [note] = await worker.show(page, home.relay.url + "/", message)
    assert (note["title"], note["body"], note["tag"]) == (
        "Front door open",
        "Front door open!",
        message["thread"],
    )
    assert note["data"]["url"] == f"/#/h/{hub_id}/inbox"

    # Resolve it in the app: the entry shows resolved, with no button left.
    await door.get_by_role("button", name=text(lang, "inbox.resolve")).click()
    resolved = page.locator("li.note.resolved").filter(has_text="Front door open")
    await resolved.wait_for()
    assert await resolved.get_by_role("button").count() == 0
    await tabs.locator("#inbox-badge").filter(has_text="1").wait_for()

    entry = await inbox_entry(home, "door")
    assert entry is not None and entry["state"] == "resolved", entry
    kettle_pushes = len(push.messages("Kettle on"))
    assert entry["resolved_by"], "resolved by the phone's session"
    count = entry["count"]
    # Time passes: the other reminder fires three more times ...
    kettle = await inbox_entry(home, "kettle")
    assert kettle is not None
    kettle_before = kettle["count"]

    async def kettle_moved_on() -> bool:
        now = await inbox_entry(home, "kettle")
        return now is not None and now["count"] >= kettle_before + 3

    await eventually(kettle_moved_on, timeout=30, what="three more kettle reminders")
    # ... and the resolved one sent nothing more.
    after = await inbox_entry(home, "door")
    assert after is not None
    assert (after["state"], after["count"]) == ("resolved", count), after
    # Pushes stopped with it (at most one per reminder sent), while the other's went on.
    await eventually(
        lambda: len(push.messages("Kettle on")) > kettle_pushes, what="the kettle's pushes"
    )
    assert 1 <= len(push.messages("Front door open")) <= count
    await phone.shot(screenshots, f"14-inbox-resolved-{lang}")
    assert phone.errors == []
    await phone.close()
