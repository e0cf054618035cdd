"""The app shell in real Chromium at 390x844, served by WebApp alone (no relay behind it):
the first screen in Japanese and English, the language switch, what is kept in localStorage,
no CSP violations, and the shell's compressed size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from phone_kit import open_phone

from relay.webapp import WebApp

SHELL_BUDGET_BYTES = 100 * 1024


@pytest.fixture(params=["relay", "hub"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app_url(mode: str) -> AsyncIterator[str]:
    app = web.Application()
    WebApp(mode).add_routes(app)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


async def test_first_screen_in_japanese_and_english(
    browser: Any, app_url: str, mode: str, screenshots: Path
) -> None:
    ja = await open_phone(browser, app_url, locale="ja-JP")
    page = ja.page
    form = page.locator("form.signin")
    await form.wait_for()
    heading, button = {
        "relay": ("ログイン", "ログイン"),
        "hub": ("このスマホをペアリング", "ペアリング"),
    }[mode]
    assert await form.locator("h2").inner_text() == heading
    assert await form.locator("button[type=submit]").inner_text() == button
    assert await page.get_attribute("html", "lang") == "ja"
    assert ja.errors == []
    await ja.shot(screenshots, f"signin-{mode}-ja")
    await ja.close()

    en = await open_phone(browser, app_url, locale="en-GB")
    page = en.page
    await page.locator("form.signin").wait_for()
    if mode == "relay":
        assert await page.get_by_label("E-mail").is_visible()
        assert await page.get_by_label("Password").is_visible()
        await page.get_by_role("button", name="New here? Create an account").click()
        assert await page.locator("form.signin h2").inner_text() == "Create an account"
    else:
        assert await page.get_by_label("Pairing code").is_visible()
    await en.shot(screenshots, f"signin-{mode}-en")
    assert en.errors == []
    await en.close()


async def test_language_switch_is_the_only_thing_stored(browser: Any, app_url: str) -> None:
    phone = await open_phone(browser, app_url, locale="en-US")
    page = phone.page
    await page.locator("form.signin").wait_for()
    await page.get_by_label("Language").select_option("ja")
    await page.get_by_label("言語").wait_for()
    await page.reload()
    await page.locator("form.signin").wait_for()
    assert await page.get_attribute("html", "lang") == "ja"
    assert await page.get_by_label("言語").is_visible()
    stored = await page.evaluate("Object.keys(localStorage)")
    assert stored == ["homehub.language"]
    assert phone.errors == []
    await phone.close()


async def test_shell_is_small_when_compressed(browser: Any, app_url: str) -> None:
    sizes: list[Any] = []
    phone = await open_phone(browser, "about:blank")
    page = phone.page
    page.on("requestfinished", lambda request: sizes.append(request))
    await page.goto(app_url)
    await page.locator("form.signin").wait_for()
    total = 0
    kinds = set()
    for request in sizes:
        if request.resource_type not in ("document", "script", "stylesheet"):
            continue
        response = await request.response()
        assert response is not None
        kinds.add(request.resource_type)
        if request.resource_type in ("script", "stylesheet"):
            assert response.headers.get("content-encoding") == "gzip", request.url
        total += (await request.sizes())["responseBodySize"]
    assert kinds == {"document", "script", "stylesheet"}
    assert 0 < total <= SHELL_BUDGET_BYTES, total
    await phone.close()


async def test_service_worker_opens_the_app_offline(browser: Any, app_url: str) -> None:
    phone = await open_phone(browser, app_url, locale="en-GB")
    page = phone.page
    await page.locator("form.signin").wait_for()
    # Loopback is a secure context: the worker registers and caches the shell.
    scope = await page.evaluate("navigator.serviceWorker.ready.then((r) => r.active && r.scope)")
    assert scope == app_url
    await page.reload()  # now controlled by the worker
    assert await page.evaluate("Boolean(navigator.serviceWorker.controller)")
    await phone.context.set_offline(True)
    await page.reload()
    await page.get_by_role("heading", name="No connection").wait_for()
    assert await page.get_by_role("button", name="Try again").is_visible()
    await phone.context.set_offline(False)
    await phone.close()
