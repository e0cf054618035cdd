"""What every part of the phone API shares: who is asking, which hubs they own, open sockets."""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from relay.accounts import Accounts
from relay.config import RelayConfig
from relay.errors import Draining, Forbidden, NotFound, RateLimited
from relay.limits import RateLimiter
from relay.push import WebPush
from relay.queue_delivery import QueueDelivery
from relay.routing import Routing
from relay.shadows import ShadowCache
from relay.store import RelayStore
from relay.webapp.session import SessionRefused, check_cookie_request, cookie_token

OWNS_CACHE_S = 30.0
SESSION_COOKIE = "homehub_relay_session"
# Published by the relay itself when accounts leave a hub: {"type": "members", "hub_id",
# "removed": [account ids]}; every node closes those accounts' sockets of that hub.
MEMBERS_EVENT = "members"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: the account and its session (from the header or the cookie)."""

    account_id: str
    token_hash: str
    token: str


class PhoneSockets:
    """Open phone event sockets as (account, hub, session token hash, socket).

    Unclaiming a hub or logging out must cut them at once, not when the phone next reconnects.
    """

    def __init__(self) -> None:
        self._open: set[tuple[str, str, str, web.WebSocketResponse]] = set()

    def add(self, entry: tuple[str, str, str, web.WebSocketResponse]) -> None:
        """A socket opened."""
        self._open.add(entry)

    def discard(self, entry: tuple[str, str, str, web.WebSocketResponse]) -> None:
        """A socket closed."""
        self._open.discard(entry)

    async def cut(self, which: Callable[[str, str, str], bool], reason: str) -> None:
        """Close every socket `which(account, hub, token hash)` selects, saying why."""
        for entry in [e for e in self._open if which(*e[:3])]:
            self._open.discard(entry)
            with contextlib.suppress(Exception):
                await entry[3].close(code=WSCloseCode.POLICY_VIOLATION, message=reason.encode())


@dataclass
class PhoneContext:
    """The node's parts as the phone API sees them, plus per-account limits and caches."""

    config: RelayConfig
    store: RelayStore
    routing: Routing
    accounts: Accounts
    shadows: ShadowCache
    queue: QueueDelivery
    push: WebPush | None = None
    sockets: PhoneSockets = field(default_factory=PhoneSockets)
    rates: RateLimiter = field(init=False)
    # Password and claim-code guessing: a few tries a minute per address / account.
    login_rates: RateLimiter = field(init=False)
    claim_rates: RateLimiter = field(init=False)
    _owned_cache: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = self.config
        self.rates = RateLimiter(config.account_rate, config.account_burst)
        self.login_rates = RateLimiter(config.login_rate, config.login_burst)
        self.claim_rates = RateLimiter(config.login_rate, config.login_burst)

    def push_key(self) -> str:
        """The VAPID public key (503 before the node has loaded it)."""
        if self.push is None or not self.push.public_key:
            raise Draining("Web Push is not ready on this node yet; retry in a moment")
        return self.push.public_key

    async def caller(self, request: web.Request, *, limit: bool = True) -> Caller:
        """Who is asking (401 without a valid session, 403 for a cookie that fails the CSRF or
        Origin check, 429 when too fast).

        An `Authorization` header wins (the TUI, the CLI, scripts); without one the browser's
        HttpOnly session cookie counts, and then the request must pass the CSRF/Origin check.
        """
        header = request.headers.get("Authorization")
        if header is not None:
            token = header.strip().partition(" ")[2].strip()
            account_id, token_hash = await self.accounts.authenticate(header)
            caller = Caller(account_id, token_hash, token)
        else:
            token = cookie_token(request, SESSION_COOKIE) or ""
            # Same 401 as a missing header: the message tells scripts what to send.
            account_id, token_hash = await self.accounts.authenticate(
                f"Bearer {token}" if token else None
            )
            try:
                check_cookie_request(request, token)
            except SessionRefused as err:
                raise Forbidden(err.message) from None
            caller = Caller(account_id, token_hash, token)
        if limit and not self.rates.allow(caller.account_id):
            raise RateLimited("too many requests from this account; slow down and retry")
        return caller

    async def account(self, request: web.Request) -> str:
        """The caller's account id (see `caller`)."""
        return (await self.caller(request)).account_id

    async def owned(self, request: web.Request) -> tuple[str, str]:
        """(account id, hub id) if the account owns the hub or is a member; 404 otherwise."""
        account_id = await self.account(request)
        hub_id = request.match_info["hub_id"]
        # Same answer for "does not exist" and "not yours": ids reveal nothing.
        if not await self.owns(account_id, hub_id):
            raise NotFound(f"no hub {hub_id!r} in your account; GET /v1/hubs lists yours")
        return account_id, hub_id

    async def role(self, request: web.Request) -> tuple[str, str, str]:
        """(account id, hub id, "owner" | "member"); 404 for anyone else (never cached)."""
        account_id = await self.account(request)
        hub_id = request.match_info["hub_id"]
        role = await self.store.role(account_id, hub_id)
        if role is None:
            self.forget_owner(account_id, hub_id)
            raise NotFound(f"no hub {hub_id!r} in your account; GET /v1/hubs lists yours")
        return account_id, hub_id, role

    async def owner(self, request: web.Request, what: str) -> tuple[str, str]:
        """(account id, hub id) when the caller owns the hub; 403 for a member, else 404."""
        account_id, hub_id, role = await self.role(request)
        if role != "owner":
            raise Forbidden(f"only the hub's owner may {what}")
        return account_id, hub_id

    async def owns(self, account_id: str, hub_id: str) -> bool:
        """Is this account the hub's owner or a member? (one node caches a "yes" briefly)"""
        # Only "yes" is cached (briefly): a new claim counts at once, and a removal is made
        # on this node (the only one), which forgets the entry (members_left).
        if self.config.routing_url:
            # A cluster: a member removed on another node must lose access here at once, and
            # no node hears of every hub's membership changes; so ask the store every time,
            # as sessions do (Accounts cache_s=0).
            return await self.store.owns(account_id, hub_id)
        key = (account_id, hub_id)
        now = time.monotonic()
        until = self._owned_cache.get(key)
        if until is not None and until > now:
            return True
        if not await self.store.owns(account_id, hub_id):
            self._owned_cache.pop(key, None)
            return False
        if len(self._owned_cache) > 100_000:
            self._owned_cache.clear()
        self._owned_cache[key] = now + OWNS_CACHE_S
        return True

    def forget_owner(self, account_id: str, hub_id: str) -> None:
        """Drop a cached "yes" (the claim was just removed)."""
        self._owned_cache.pop((account_id, hub_id), None)

    async def members_left(self, hub_id: str, account_ids: list[str], reason: str) -> None:
        """Accounts are out of a hub: forget them here, cut their sockets on every node."""
        gone = set(account_ids)
        for account_id in gone:
            self.forget_owner(account_id, hub_id)
        await self.sockets.cut(lambda a, h, _t: h == hub_id and a in gone, reason)
        # Sockets held by other nodes close when this event reaches them (phone/events.py).
        event = {"type": MEMBERS_EVENT, "hub_id": hub_id, "removed": sorted(gone)}
        self.routing.publish(hub_id, event)


class PhonePart(abc.ABC):
    """One part of the phone API: a few routes over the shared context."""

    def __init__(self, ctx: PhoneContext) -> None:
        self.ctx = ctx

    @abc.abstractmethod
    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Mount the part's routes."""
