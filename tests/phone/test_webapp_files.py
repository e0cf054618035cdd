"""The web app's files as the relay and the hub serve them: gzip, ETag/304, caching, CSP and
refusal of paths that try to leave the app's folder. Real aiohttp server on loopback."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from relay.webapp import STATIC_DIR, WebApp


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    WebApp("relay").add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def _asset_base(client: TestClient[web.Request, web.Application]) -> str:
    response = await client.get("/")
    html = await response.text()
    match = re.search(r'src="(/app/v-[0-9a-f]+)/js/main\.js"', html)
    assert match, html
    return match.group(1)


async def test_index_is_html_with_csp_and_no_inline_script(client: TestClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self' ws: wss:" in csp
    assert "img-src 'self' data:" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    html = await response.text()
    # Every <script> loads a file; no inline code, no inline style attributes or blocks.
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert tag.strip() == ""
    assert "<style" not in html
    assert "style=" not in html
    assert "__ASSET_BASE__" not in html


async def test_gzip_when_accepted_and_identity_otherwise(client: TestClient) -> None:
    base = await _asset_base(client)
    zipped = await client.get(
        f"{base}/js/main.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    )
    assert zipped.status == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    packed = await zipped.read()
    plain = await client.get(f"{base}/js/main.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(packed) == await plain.read()
    assert plain.headers["Content-Type"].startswith("text/javascript")
    refused = await client.get(
        f"{base}/js/main.js", headers={"Accept-Encoding": "gzip;q=0"}, auto_decompress=False
    )
    assert "Content-Encoding" not in refused.headers


async def test_etag_answers_304_and_versioned_assets_are_immutable(client: TestClient) -> None:
    base = await _asset_base(client)
    first = await client.get(f"{base}/css/app.css")
    assert first.status == 200
    assert "immutable" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = await client.get(f"{base}/css/app.css", headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    other = await client.get(f"{base}/css/app.css", headers={"If-None-Match": '"nope"'})
    assert other.status == 200
    # An old release's URL still works but must be revalidated.
    stale = await client.get("/app/v-000000000000/css/app.css")
    assert stale.status == 200
    assert stale.headers["Cache-Control"] == "no-cache"
    index = await client.get("/")
    assert (await client.get("/", headers={"If-None-Match": index.headers["ETag"]})).status == 304


async def test_service_worker_manifest_and_config(client: TestClient) -> None:
    sw = await client.get("/sw.js")
    assert sw.status == 200
    assert sw.headers["Content-Type"].startswith("text/javascript")
    assert sw.headers["Service-Worker-Allowed"] == "/"
    assert "__APP_VERSION__" not in await sw.text()
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    data = await manifest.json(content_type=None)
    assert data["start_url"] == "/"
    for icon in data["icons"]:
        assert (await client.get(icon["src"])).status == 200, icon
    config = await client.get("/app-config.json")
    body = await config.json()
    assert body["mode"] == "relay"
    assert config.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/app/../__init__.py",
        "/app/%2e%2e/__init__.py",
        "/app/%2E%2E/%2E%2E/relay/webapp/__init__.py",
        "/app/js/..%2f..%2f__init__.py",
        "/app/.hidden",
        "/app/js/..%5c..%5c__init__.py",
        "/app/",
        "/app/nothing-here.js",
    ],
)
async def test_paths_outside_the_app_are_refused(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status in (400, 403, 404), path
    body = await response.read()
    assert b"import" not in body
    assert b"WebApp" not in body


async def test_hub_mode_and_bad_mode() -> None:
    app = web.Application()
    WebApp("hub").add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        body = await (await test_client.get("/app-config.json")).json()
        assert body["mode"] == "hub"
    with pytest.raises(ValueError, match="relay' or 'hub"):
        WebApp("cloud")  # type: ignore[arg-type]


async def test_files_are_read_once(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>one</p>")
    webapp = WebApp("relay", static_dir=tmp_path)
    app = web.Application()
    webapp.add_routes(app)
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        assert await (await test_client.get("/")).text() == "<p>one</p>"
        (tmp_path / "index.html").write_text("<p>two</p>")
        assert await (await test_client.get("/")).text() == "<p>one</p>"


def test_static_files_are_in_the_package_data() -> None:
    # The shell must be installable by pip: index.html, the worker and the entry module exist.
    for name in ("index.html", "sw.js", "manifest.webmanifest", "js/main.js", "css/app.css"):
        assert (STATIC_DIR / name).is_file(), name


async def test_real_client_sees_gzip_decoded(client: TestClient) -> None:
    # aiohttp's client, like a browser, sends Accept-Encoding and decodes transparently.
    async with aiohttp.ClientSession() as session:
        url = str(client.make_url("/"))
        async with session.get(url) as response:
            assert response.headers.get("Content-Encoding") == "gzip"
            assert "<!doctype html>" in (await response.text()).lower()


async def test_every_module_is_preloaded_and_in_the_worker_cache(client: TestClient) -> None:
    html = await (await client.get("/")).text()
    base = await _asset_base(client)
    modules = sorted(
        p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js")
    )
    preloaded = sorted(
        m.removeprefix(base + "/")
        for m in re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    )
    assert preloaded == modules
    sw = await (await client.get("/sw.js")).text()
    for module in modules:
        assert f'"{base}/{module}"' in sw, module
    assert f'"{base}/css/app.css"' in sw
    assert "__SHELL_FILES__" not in sw
    # Every file the worker caches exists (a missing one would fail its whole install).
    cached = re.search(r"const SHELL = (\[.*?\]);", sw, re.S)
    assert cached
    for url in json.loads(cached.group(1)):
        assert (await client.get(url)).status == 200, url
