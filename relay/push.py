"""Web Push from the relay: a hub's `notification` events reach its people's phones even when
the app is closed.

    push = WebPush(config, store)
    await push.start()                      # loads (or makes) the VAPID key
    push.public_key                         # the browser's applicationServerKey
    push.on_hub_event(hub_id, event)        # from the tunnel: never blocks, never raises
    await push.stop()

The VAPID key pair is made once and kept in the store (`node_secrets`), not in a file: every
node of a cluster must sign with the same key, since a browser's subscription is bound to the
`applicationServerKey` it was made with, and the phone's next request may reach any node. On a
single node the store is the SQLite file in the relay's private data folder (0700 folder, 0600
files, see relay/private_files.py), so the key is as private as the sessions beside it; in a
cluster it is as private as the database (whoever can read that can read the subscriptions
too).

Sending uses `pywebpush` (RFC 8291 aes128gcm payload encryption, RFC 8292 VAPID), which is
blocking (requests): it runs in a small thread pool of its own, so pushes never wait behind
argon2 hashing in the default pool, and never hold up the tunnel that carried the event. Events
wait in a bounded queue (full: new ones are dropped and counted); at most `push_concurrency`
pushes are in flight. A subscription the push service answers 404 or 410 for is gone for good
(the browser unsubscribed or the app was uninstalled) and is deleted.

Only the node that holds the hub's tunnel sees its frames, so each notification is pushed once
per subscription, however many nodes there are.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from relay.config import RelayConfig
from relay.errors import BadRequest
from relay.limits import RateLimiter
from relay.store import PushSubscription, RelayStore

_LOG = logging.getLogger(__name__)
VAPID_SECRET = "vapid_private_key"
NOTIFICATION = "notification"
MAX_ENDPOINT = 2048
MAX_TITLE = 120
MAX_BODY = 600  # a push payload must stay under ~4 KB after encryption; this leaves room
QUEUE_SIZE = 1000
_CONTACT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+\S*)$")


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding (how Web Push writes keys)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The inverse of `b64url` (padding optional); ValueError when it is not base64url."""
    if not isinstance(text, str) or not text or len(text) > 200:
        raise ValueError("not a key")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the push service answered for one subscription (0: no answer)."""

    endpoint: str
    status: int
    error: str = ""


def check_subscription(data: Mapping[str, Any], allow_insecure: bool) -> tuple[str, str, str]:
    """A browser's PushSubscription JSON -> (endpoint, p256dh, auth), or BadRequest saying why.

    In production the endpoint must be an https URL of a public host: the relay POSTs to it,
    so a loopback or private address would let anyone make the relay call into its own network.
    `allow_insecure` (tests, the demo) also accepts http and such addresses.
    """
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint:
        raise BadRequest(
            'send the browser\'s PushSubscription JSON: {"endpoint", "keys": {"p256dh", "auth"}}'
        )
    if len(endpoint) > MAX_ENDPOINT:
        raise BadRequest(f"the endpoint is over {MAX_ENDPOINT} characters")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadRequest("the endpoint must be an https:// URL of a push service")
    if not allow_insecure:
        if parts.scheme != "https":
            raise BadRequest(
                "the endpoint must be an https:// URL of a push service (this relay does not "
                "accept plain-http endpoints; its operator can allow them for tests with "
                "--push-allow-insecure-endpoints)"
            )
        if _is_local_host(parts.hostname):
            raise BadRequest(f"the endpoint's host {parts.hostname} is not a public push service")
    if not isinstance(keys, Mapping):
        raise BadRequest('"keys" must be {"p256dh": ..., "auth": ...} from the browser')
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    try:
        point = b64url_decode(p256dh)  # type: ignore[arg-type]
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if len(point) != 65:
            raise ValueError("not uncompressed")
    except (ValueError, TypeError):
        raise BadRequest(
            "keys.p256dh must be the browser's P-256 public key (65 bytes, base64url)"
        ) from None
    try:
        secret = b64url_decode(auth)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        secret = b""
    if len(secret) != 16:
        raise BadRequest("keys.auth must be the browser's 16-byte auth secret (base64url)")
    return endpoint, str(p256dh), str(auth)


def _is_local_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


def payload_of(hub_id: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """What the service worker shows (relay/webapp/static/sw.js reads these fields).

    The hub's `notification` event: {id, title, message (or body), kind (or severity), ...};
    a reminder's repeats share the id, so the phone replaces the earlier one (`thread`).
    """
    title = str(event.get("title") or "homehub")[:MAX_TITLE]
    body = str(event.get("message") or event.get("body") or "")[:MAX_BODY]
    kind = str(event.get("kind") or event.get("severity") or "alert")[:20]
    note_id = str(event.get("id") or "")[:100]
    out: dict[str, Any] = {
        "title": title,
        "body": body,
        "kind": kind,
        "hub_id": hub_id,
        "notification_id": note_id,
        "ts": event.get("ts") if isinstance(event.get("ts"), int | float) else time.time(),
    }
    count = event.get("count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 1:
        out["count"] = count  # a reminder's repeat
    if note_id:
        out["thread"] = f"{hub_id}:{note_id}"
    return out


class WebPush:
    """VAPID keys, and pushes of hub notifications to every subscription of the hub's people."""

    def __init__(self, config: RelayConfig, store: RelayStore) -> None:
        self.config = config
        self.store = store
        self._vapid: Vapid02 | None = None
        self.public_key = ""
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(QUEUE_SIZE)
        self._slots = asyncio.Semaphore(max(1, config.push_concurrency))
        self._executor: ThreadPoolExecutor | None = None
        self._worker: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._local = threading.local()
        # A hub (a key anyone can make) decides how often it notifies: its people's phones
        # and the push services' patience are protected by a per-hub budget.
        self._hub_rates = RateLimiter(config.push_rate_per_hub, config.push_burst_per_hub)
        self.dropped = 0  # events not pushed: the queue was full or the hub over its budget
        self.outcomes: list[Outcome] = []  # the last few answers (for `homehub relay` status)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load the VAPID key (the first node to start makes it) and start sending."""
        if not _CONTACT.match(self.config.push_contact):
            raise ValueError(
                f"--push-contact {self.config.push_contact!r}: give mailto:you@example.org or "
                "an https:// URL (push services contact the relay's operator there)"
            )
        fresh = b64url(
            ec.generate_private_key(ec.SECP256R1())
            .private_numbers()
            .private_value.to_bytes(32, "big")
        )
        raw = await self.store.node_secret(VAPID_SECRET, fresh, time.time())
        self._vapid = Vapid02.from_raw(raw.encode())
        point = self._vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64url(point)
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, self.config.push_concurrency), thread_name_prefix="webpush"
        )
        self._worker = asyncio.create_task(self._run(), name="webpush")

    async def stop(self) -> None:
        """Stop sending (pushes under way are abandoned: the relay is going down)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------ from the tunnel
    def on_hub_event(self, hub_id: str, event: Mapping[str, Any]) -> None:
        """A hub sent an event: queue a push if it is a notification (never blocks)."""
        if event.get("type") != NOTIFICATION or self._worker is None:
            return
        if not self._hub_rates.allow(hub_id):
            self.dropped += 1
            return
        try:
            self._queue.put_nowait((hub_id, payload_of(hub_id, event)))
        except asyncio.QueueFull:
            self.dropped += 1

    async def wait_idle(self) -> None:
        """Until every queued push has been answered (tests, a graceful stop)."""
        await self._queue.join()
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    # ------------------------------------------------------------------ sending
    async def _run(self) -> None:
        while True:
            hub_id, payload = await self._queue.get()
            try:
                subs = await self.store.push_subscriptions_of_hub(hub_id)
                data = json.dumps(payload, separators=(",", ":"))
                urgency = "high" if payload["kind"] == "alert" else "normal"
                for sub in subs:
                    await self._slots.acquire()  # at most push_concurrency in flight
                    task = asyncio.create_task(self._send(sub, data, urgency))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
            except Exception:
                _LOG.exception("web push for hub %s failed", hub_id)
            finally:
                self._queue.task_done()

    async def _send(self, sub: PushSubscription, data: str, urgency: str) -> None:
        try:
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(self._executor, self._post, sub, data, urgency)
            self._record(outcome)
            if outcome.status in (404, 410):
                # The subscription is gone for good: the browser unsubscribed or the app was
                # removed. Only that endpoint's row goes (not one a browser re-registered since).
                await self.store.delete_push_subscription(sub.endpoint, sub.account_id)
            elif outcome.status not in (200, 201, 202):
                _LOG.warning(
                    "push to %s: %s %s",
                    urlsplit(sub.endpoint).netloc,
                    outcome.status or "no answer",
                    outcome.error[:200],
                )
        finally:
            self._slots.release()

    def _record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        del self.outcomes[:-50]

    def _post(self, sub: PushSubscription, data: str, urgency: str) -> Outcome:
        """One push (in a pool thread): encrypt, sign, POST; what the service answered."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.trust_env = False  # no proxy from the environment for the push services
        try:
            response = webpush(
                {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                data=data,
                vapid_private_key=self._vapid,
                # A fresh dict each time: pywebpush fills in `aud` (the endpoint's origin)
                # and `exp` in place.
                vapid_claims={"sub": self.config.push_contact},
                content_encoding="aes128gcm",
                ttl=int(self.config.push_ttl_s),
                timeout=self.config.push_timeout_s,
                headers={"Urgency": urgency},
                requests_session=session,
            )
        except WebPushException as err:
            status = err.response.status_code if err.response is not None else 0
            return Outcome(sub.endpoint, int(status or 0), str(err))
        except Exception as err:  # a refused connection, a timeout, a bad key: logged
            return Outcome(sub.endpoint, 0, f"{type(err).__name__}: {err}")
        assert isinstance(response, requests.Response)
        return Outcome(sub.endpoint, response.status_code)
