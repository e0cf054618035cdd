"""The phone web app, served by the relay (under `/`) and by the hub on the LAN.

This package imports nothing from `relay` or `hub`: both serve it.

    WebApp("relay").add_routes(app)

serves `/` (index.html), `/sw.js` (the service worker, at the root so its scope is the whole
site), `/manifest.webmanifest`, `/app/...` (modules, styles, icons) and `/app-config.json`
(`{"mode": ...}`, which tells the page whether it talks to a relay or to a hub).

The files are small (the whole shell is well under 100 KB compressed), so they are read once,
on the first request, in a worker thread, and kept in memory with a gzip copy and an ETag each.
Asset URLs carry a version (`/app/v-<hash>/js/main.js`): the page is revalidated on every load
(`no-cache`, answered by a 304 when nothing changed) while the versioned assets are immutable,
so a warm phone renders without a single asset round trip and a new release is never mixed
with a cached old one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from aiohttp import web

__all__ = ["CONTENT_SECURITY_POLICY", "STATIC_DIR", "Mode", "WebApp"]

Mode = Literal["relay", "hub"]
STATIC_DIR = Path(__file__).resolve().parent / "static"

# No inline script or style anywhere: every script and stylesheet is a file from this origin.
# WebSockets go to the same host (ws: for a hub's plain-HTTP LAN address, wss: behind TLS).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self' ws: wss:",
        "img-src 'self' data:",
        "font-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# Already-compressed formats gain nothing from gzip.
_NO_GZIP = frozenset({".png", ".ico"})
# Text files may name the release's asset prefix; it is filled in when the files are loaded.
_ASSET_PLACEHOLDER = "__ASSET_BASE__"
_VERSION_PLACEHOLDER = "__APP_VERSION__"
# index.html: <link rel="modulepreload"> for every module, so the browser fetches them all at
# once instead of discovering the import graph one level at a time.
_PRELOAD_PLACEHOLDER = "<!-- __MODULE_PRELOADS__ -->"
# sw.js: the list of files the service worker keeps for offline use.
_SHELL_PLACEHOLDER = '"__SHELL_FILES__"'
_TEMPLATED = frozenset({"index.html", "sw.js", "manifest.webmanifest"})

_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class _Asset:
    """One file held in memory, with its gzip copy (when that is smaller)."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


@dataclass(frozen=True, slots=True)
class _Bundle:
    """Every file of one release of the app."""

    version: str
    assets: dict[str, _Asset]


def _safe_relative_path(tail: str) -> str | None:
    """The normalised relative path for a request tail, or None if it tries to leave the root."""
    if not tail or "\\" in tail or "\x00" in tail:
        return None
    parts = PurePosixPath(tail).parts
    if not parts or tail.startswith("/"):
        return None
    for part in parts:
        if part in ("..", ".") or part.startswith("."):
            return None
    return "/".join(parts)


def _make_asset(name: str, body: bytes) -> _Asset:
    suffix = PurePosixPath(name).suffix.lower()
    content_type = _CONTENT_TYPES.get(suffix, "application/octet-stream")
    gzipped: bytes | None = None
    if suffix not in _NO_GZIP:
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(packed) < len(body):
            gzipped = packed
    etag = hashlib.sha256(body).hexdigest()[:20]
    return _Asset(body=body, gzipped=gzipped, content_type=content_type, etag=etag)


def _load_bundle(root: Path) -> _Bundle:
    """Read every static file (runs in a worker thread: it is blocking file I/O)."""
    raw: dict[str, bytes] = {}
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                continue
            raw[rel] = path.read_bytes()
    digest = hashlib.sha256()
    for rel, body in raw.items():
        digest.update(rel.encode() + b"\x00" + body + b"\x00")
    version = digest.hexdigest()[:12]
    base = f"/app/v-{version}"
    modules = [rel for rel in raw if rel.startswith("js/") and rel.endswith(".js")]
    preloads = "\n".join(f'<link rel="modulepreload" href="{base}/{rel}">' for rel in modules)
    shell = ["/", "/manifest.webmanifest"] + [
        f"{base}/{rel}"
        for rel in raw
        if rel not in _TEMPLATED and not (rel.startswith("icons/") and "512" in rel)
    ]
    assets: dict[str, _Asset] = {}
    for rel, body in raw.items():
        if rel in _TEMPLATED:
            text = body.decode("utf-8")
            text = text.replace(_ASSET_PLACEHOLDER, base).replace(_VERSION_PLACEHOLDER, version)
            text = text.replace(_PRELOAD_PLACEHOLDER, preloads)
            text = text.replace(_SHELL_PLACEHOLDER, json.dumps(shell))
            body = text.encode("utf-8")
        assets[rel] = _make_asset(rel, body)
    return _Bundle(version=version, assets=assets)


def _accepts_gzip(request: web.BaseRequest) -> bool:
    header = request.headers.get("Accept-Encoding", "")
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def _etag_matches(request: web.BaseRequest, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def _not_found(message: str) -> web.Response:
    body = json.dumps({"error": {"status": 404, "message": message}})
    response = web.Response(status=404, text=body, content_type="application/json")
    response.headers.update(_SECURITY_HEADERS)
    return response


class WebApp:
    """The phone app's files for one kind of server ("relay" or "hub")."""

    def __init__(self, mode: Mode, static_dir: Path | None = None) -> None:
        if mode not in ("relay", "hub"):
            raise ValueError(f"WebApp mode must be 'relay' or 'hub', not {mode!r}")
        self.mode: Mode = mode
        self._root = static_dir or STATIC_DIR
        self._bundle: _Bundle | None = None
        self._loading: asyncio.Lock | None = None

    def add_routes(self, app: web.Application) -> None:
        """Mount the app's routes (GET and HEAD) on an aiohttp application."""
        app.router.add_get("/", self._index)
        app.router.add_get("/index.html", self._index)
        app.router.add_get("/sw.js", self._service_worker)
        app.router.add_get("/manifest.webmanifest", self._manifest)
        app.router.add_get("/app-config.json", self._config)
        app.router.add_get("/app/{tail:.*}", self._asset)

    async def version(self) -> str:
        """The release hash that asset URLs carry (loads the files on first use)."""
        return (await self._files()).version

    async def _files(self) -> _Bundle:
        if self._bundle is not None:
            return self._bundle
        if self._loading is None:
            self._loading = asyncio.Lock()
        async with self._loading:
            if self._bundle is None:
                self._bundle = await asyncio.to_thread(_load_bundle, self._root)
        return self._bundle

    async def _serve(self, request: web.Request, name: str, cache_control: str) -> web.Response:
        bundle = await self._files()
        asset = bundle.assets.get(name)
        if asset is None:
            return _not_found(f"no such file in the app: /{name}")
        use_gzip = asset.gzipped is not None and _accepts_gzip(request)
        etag = f'"{asset.etag}-gz"' if use_gzip else f'"{asset.etag}"'
        headers = {
            "Cache-Control": cache_control,
            "ETag": etag,
            **_SECURITY_HEADERS,
        }
        if asset.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
        if _etag_matches(request, etag):
            return web.Response(status=304, headers=headers)
        body = asset.body
        if use_gzip and asset.gzipped is not None:
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = asset.content_type
        return web.Response(body=body, headers=headers)

    async def _index(self, request: web.Request) -> web.Response:
        return await self._serve(request, "index.html", _REVALIDATE)

    async def _service_worker(self, request: web.Request) -> web.Response:
        response = await self._serve(request, "sw.js", _REVALIDATE)
        response.headers["Service-Worker-Allowed"] = "/"
        return response

    async def _manifest(self, request: web.Request) -> web.Response:
        return await self._serve(request, "manifest.webmanifest", _REVALIDATE)

    async def _config(self, request: web.Request) -> web.Response:
        bundle = await self._files()
        body = json.dumps({"mode": self.mode, "version": bundle.version})
        response = web.Response(text=body, content_type="application/json")
        response.headers["Cache-Control"] = "no-store"
        response.headers.update(_SECURITY_HEADERS)
        return response

    async def _asset(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        rel = _safe_relative_path(tail)
        if rel is None:
            return _not_found("no such file in the app (paths may not leave the app's folder)")
        bundle = await self._files()
        first, _, rest = rel.partition("/")
        if first.startswith("v-") and rest:
            # A versioned URL: immutable when it names this release; an older release's URL
            # still gets today's file, but must be revalidated.
            fresh = first == f"v-{bundle.version}"
            return await self._serve(request, rest, _IMMUTABLE if fresh else _REVALIDATE)
        return await self._serve(request, rel, _REVALIDATE)
