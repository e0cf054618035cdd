"""Helpers for driving the phone app in Chromium: a page at a phone's size that records
console errors and CSP violations, and screenshots named after the screen."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay_testkit import PASSWORD

from relay.webapp import STATIC_DIR

VIEWPORT = {"width": 390, "height": 844}


@dataclass
class PhonePage:
    """A page plus what went wrong in it (errors are collected, asserted by the tests)."""

    context: Any
    page: Any
    errors: list[str] = field(default_factory=list)

    async def shot(self, folder: Path, name: str) -> Path:
        """A full-page screenshot named `name`.png."""
        path = folder / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        return path

    async def close(self) -> None:
        """Close the browser context."""
        await self.context.close()


async def open_phone(
    browser: Any,
    url: str,
    *,
    locale: str = "en-GB",
    expected_errors: tuple[str, ...] = (),
    init_scripts: tuple[str, ...] = (),
    permissions: tuple[str, ...] = (),
) -> PhonePage:
    """A new browser context (own cookies and storage) at `url`, sized like a phone.

    `init_scripts` run in every page before the app's own (stand-ins for what a headless
    browser lacks, such as a push service); `permissions` are granted as a person would."""
    context = await browser.new_context(
        viewport=VIEWPORT,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        timezone_id="Asia/Tokyo",
    )
    context.set_default_timeout(15_000)
    for script in init_scripts:
        await context.add_init_script(script)
    if permissions:
        await context.grant_permissions(list(permissions))
    page = await context.new_page()
    phone = PhonePage(context, page)

    def on_console(message: Any) -> None:
        text = message.text
        # Chrome logs every 4xx answer ("Failed to load resource"); the app expects some (the
        # session check before sign-in). Script errors and CSP refusals are what count.
        if message.type != "error" or text.startswith("Failed to load resource"):
            return
        if not any(e in text for e in expected_errors):
            phone.errors.append(f"console: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: phone.errors.append(f"page error: {err}"))
    await page.goto(url)
    return phone


_ENTRY = re.compile(r'^\s*"([a-zA-Z0-9_.]+)":\s*"((?:[^"\\]|\\.)*)",?\s*$')


def catalogue() -> dict[str, dict[str, str]]:
    """The app's message catalogue (js/messages.js) as {language: {key: text}}."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    text = (STATIC_DIR / "js" / "messages.js").read_text(encoding="utf-8")
    for line in text.splitlines():
        section = re.match(r"^  (en|ja): \{$", line)
        if section:
            current = out.setdefault(section.group(1), {})
            continue
        entry = _ENTRY.match(line)
        if entry and current is not None:
            assert entry.group(1) not in current, f"duplicate key {entry.group(1)}"
            current[entry.group(1)] = entry.group(2)
    return out


MESSAGES = catalogue()


def text(language: str, key: str, **values: Any) -> str:
    """What the app shows for `key` in `language`, with {placeholders} filled."""
    message = MESSAGES[language][key]
    for name, value in values.items():
        message = message.replace("{" + name + "}", str(value))
    return message


async def sign_in(phone: PhonePage, language: str, email: str) -> None:
    """Fill the sign-in form the way a person does and wait for the list of homes."""
    page = phone.page
    await page.get_by_label(text(language, "signin.email")).fill(email)
    await page.get_by_label(text(language, "signin.password")).fill(PASSWORD)
    form = page.locator("form.signin")
    await form.get_by_role("button", name=text(language, "signin.submit"), exact=True).click()
    await page.get_by_role("heading", name=text(language, "hubs.title")).first.wait_for()


async def claim_in_app(phone: PhonePage, language: str, code: str) -> None:
    """Claim a hub from the hubs screen (the app then opens its home)."""
    page = phone.page
    await page.get_by_label(text(language, "claim.code")).fill(code)
    await page.get_by_role("button", name=text(language, "claim.submit"), exact=True).click()
