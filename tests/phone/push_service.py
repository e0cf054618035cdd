"""Web Push without the internet, for the phone tests.

The push service is the internet (for Chromium, Google's FCM), so three local stand-ins take
its place: an HTTP endpoint that records what the relay POSTs; a browser-side PushManager
whose subscription points at that endpoint, with a key pair and auth secret the test holds
(an init script; the app's own code asks for it, sends it to the relay and shows the toggle);
and delivery of each recorded push into the app's real service worker over the DevTools
protocol (ServiceWorker.deliverPushMessage), after decrypting it as the browser would
(RFC 8291 aes128gcm, with http_ece rather than the pywebpush that encrypted it).

Addresses 127.0.21.x (see phone_home.py): the endpoint listens on 127.0.21.20.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PUSH_HOST = "127.0.21.20"


def b64(data: bytes) -> str:
    """base64url without padding, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Pushed:
    """One POST the push service got, with its decrypted message."""

    headers: dict[str, str]
    body: bytes
    message: dict[str, Any]
    at: float


@dataclass
class PushEndpoint:
    """The phone's subscription (its keys) and the service's record of what was pushed."""

    url: str = ""
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    got: list[Pushed] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/push/phone"

    def subscription(self) -> dict[str, Any]:
        """PushSubscription.toJSON() of the phone."""
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(point), "auth": b64(self.auth)},
        }

    def init_script(self) -> str:
        """The browser side: PushManager.subscribe answers with this subscription, and notes
        the applicationServerKey the app passed (on <html data-push-key>)."""
        return PUSH_MANAGER_JS.replace("__SUBSCRIPTION__", json.dumps(self.subscription()))

    def messages(self, title: str | None = None) -> list[dict[str, Any]]:
        """The decrypted messages pushed so far (with that title)."""
        return [p.message for p in self.got if title is None or p.message.get("title") == title]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        self.got.append(Pushed(dict(request.headers), body, json.loads(plain), time.time()))
        return web.Response(status=201)


PUSH_MANAGER_JS = """
(() => {
  if (!("PushManager" in window)) return;
  const json = __SUBSCRIPTION__;
  let current = null;
  const subscription = () => ({
    endpoint: json.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    toJSON: () => json,
    getKey: () => null,
    unsubscribe: async () => { current = null; return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    document.documentElement.dataset.pushKey = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    current = subscription();
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@contextlib.asynccontextmanager
async def push_endpoint() -> AsyncIterator[PushEndpoint]:
    """The recording push service on PUSH_HOST, a free port."""
    endpoint = PushEndpoint()
    app = web.Application()
    app.router.add_post("/push/phone", endpoint.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, PUSH_HOST, 0)
    await site.start()
    endpoint.url = f"http://{PUSH_HOST}:{runner.addresses[0][1]}"
    try:
        yield endpoint
    finally:
        await runner.cleanup()


class WorkerPush:
    """Hands a push message to the page's service worker, as the browser does on a push."""

    def __init__(self, cdp: Any, origin: str) -> None:
        self.cdp = cdp
        self.origin = origin
        self.registrations: dict[str, str] = {}

    @classmethod
    async def attach(cls, context: Any, page: Any, origin: str) -> WorkerPush:
        cdp = await context.new_cdp_session(page)
        worker = cls(cdp, origin)

        def updated(params: dict[str, Any]) -> None:
            for reg in params["registrations"]:
                if not reg.get("isDeleted"):
                    worker.registrations[reg["scopeURL"]] = reg["registrationId"]

        cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
        await cdp.send("ServiceWorker.enable")
        return worker

    async def deliver(self, scope: str, message: dict[str, Any]) -> None:
        await self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": self.origin,
                "registrationId": self.registrations[scope],
                "data": json.dumps(message),
            },
        )

    async def show(
        self, page: Any, scope: str, message: dict[str, Any], timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """Deliver `message` once the worker is active and return the notifications it shows.

        deliverPushMessage answers before the worker has the event and drops it silently if the
        worker cannot take it then (seen once under CI load), so it is handed over again every
        few seconds while nothing shows; the notification's tag keeps repeats to one."""
        state = await page.evaluate(ACTIVE_WORKER_STATE_JS)
        assert state == "activated", f"the service worker is {state!r}, not activated"
        deadline = time.monotonic() + timeout
        while True:
            await self.deliver(scope, message)
            again = time.monotonic() + 3.0
            while time.monotonic() < min(again, deadline):
                shown = list(await page.evaluate(SHOWN_NOTIFICATIONS_JS))
                if shown:
                    return shown
                await asyncio.sleep(0.05)
            if time.monotonic() >= deadline:
                raise AssertionError(f"the service worker showed no notification in {timeout} s")


ACTIVE_WORKER_STATE_JS = """
navigator.serviceWorker.ready.then((r) =>
  r.active.state === "activated"
    ? "activated"
    : new Promise((done) => r.active.addEventListener("statechange", () => done(r.active.state))))
"""

SHOWN_NOTIFICATIONS_JS = """
navigator.serviceWorker.ready
  .then((r) => r.getNotifications())
  .then((list) => list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))
"""
