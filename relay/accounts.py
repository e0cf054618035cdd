"""Accounts, sessions and claim codes: argon2id passwords, random tokens stored as digests."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from relay.errors import Conflict, Invalid, NotFound, Unauthorized
from relay.login_guard import LoginGate
from relay.store import RelayStore

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
MAX_EMAIL = 254  # RFC 5321's limit for a path
# No 0/O/1/I/L: the code is read off a screen and typed into a phone.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CACHE_S = 30.0


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (tokens, claim codes); never used for passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def valid_email(email: str) -> bool:
    """Is this (normalised: stripped, lower case) an e-mail address?"""
    return bool(_EMAIL.match(email)) and len(email) <= MAX_EMAIL


def normalize_code(code: str) -> str:
    """Codes are typed by people: ignore case, spaces and dashes."""
    return re.sub(r"[\s-]", "", code).upper()


class Accounts:
    """Sign-up, log-in, sessions and claim codes over the store."""

    def __init__(
        self, store: RelayStore, session_ttl_s: float, code_ttl_s: float, cache_s: float = CACHE_S
    ) -> None:
        self.store = store
        # Nodes of a cluster share sessions: a logout on one must hold on all at once, so
        # they ask the store every time (cache_s=0); one node drops its entry on logout.
        self.cache_s = cache_s
        self.session_ttl_s = session_ttl_s
        self.code_ttl_s = code_ttl_s
        self._hasher = PasswordHasher()
        self.gate = LoginGate()
        # Verify against this when the e-mail is unknown so timing does not reveal accounts.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        # token digest -> (account id, valid until): a phone request then costs no DB round
        # trip. An entry never outlives its session (expiry holds to the second).
        self._sessions: dict[str, tuple[str, float]] = {}

    async def create(self, email: str, password: str) -> str:
        """A new account; returns its id."""
        email = email.strip().lower()
        if not valid_email(email):
            raise Invalid(f"{email!r} is not an e-mail address")
        if len(password) < MIN_PASSWORD:
            raise Invalid(f"the password must be at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        account_id = "acc_" + secrets.token_hex(8)
        if not await self.store.add_account(account_id, email, password_hash, time.time()):
            raise Conflict(f"{email} already has an account; log in instead")
        return account_id

    async def login(self, email: str, password: str, address: str = "") -> tuple[str, str]:
        """Check the password; returns (account id, new session token).

        `address` is the client's: checks are bounded and fair per address (relay/login_guard).
        """
        email = email.strip().lower()
        row = await self.store.account_by_email(email)
        stored = row[1] if row else self._dummy_hash
        async with self.gate.check(email, address) as attempt:
            try:
                await asyncio.to_thread(self._hasher.verify, stored, password)
            except (VerificationError, InvalidHashError):
                row = None
            attempt.failed = row is None
        if row is None:
            raise Unauthorized("wrong e-mail or password")
        account_id = row[0]
        if self._hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(self._hasher.hash, password)
            await self.store.set_password_hash(account_id, new_hash)
        token = "rs_" + secrets.token_urlsafe(32)
        await self.store.add_session(digest(token), account_id, time.time(), self.session_ttl_s)
        return account_id, token

    async def authenticate(self, header: str | None) -> tuple[str, str]:
        """`Authorization: Bearer <token>` (any case of "Bearer") -> (account id, token digest)."""
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("log in first: POST /v1/sessions, then send Authorization: Bearer")
        return await self.authenticate_token(token.strip())

    async def authenticate_token(self, token: str) -> tuple[str, str]:
        """A session token (from the header or the browser's cookie) -> (account, digest)."""
        token_hash = digest(token)
        now = time.time()
        cached = self._sessions.get(token_hash)
        if cached is not None and cached[1] > now:
            return cached[0], token_hash
        found = await self.store.session(token_hash, now)
        if found is None:
            self._sessions.pop(token_hash, None)
            raise Unauthorized("the session token is unknown or expired; log in again")
        account_id, expires_at = found
        if self.cache_s > 0:
            if len(self._sessions) > 100_000:
                self._sessions.clear()
            self._sessions[token_hash] = (account_id, min(expires_at, now + self.cache_s))
        return account_id, token_hash

    async def logout(self, token_hash: str) -> None:
        """End a session."""
        self._sessions.pop(token_hash, None)
        await self.store.delete_session(token_hash)

    async def new_claim_code(self, hub_id: str, keep: int = 5) -> str:
        """A one-time code for a hub (shown on the hub, typed into the phone).

        At most `keep` unused codes stay valid per hub: a new one retires the oldest.
        """
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
        await self.store.add_claim_code(digest(code), hub_id, time.time() + self.code_ttl_s)
        await self.store.trim_claim_codes(hub_id, keep)
        return f"{code[:5]}-{code[5:]}"

    async def claim(self, account_id: str, code: str) -> tuple[str, bool]:
        """Redeem a code for this account; returns (hub id, newly claimed).

        The first account to claim a hub owns it; a hub that has an owner never gets a second
        one from a code: others join by the owner's invitation (409 says so).
        """
        redeemed = await self.store.redeem_claim_code(
            digest(normalize_code(code)), account_id, time.time()
        )
        if redeemed is None:
            raise NotFound("this claim code is unknown, used or expired; ask the hub for a new one")
        hub_id, outcome = redeemed
        if outcome == "taken":
            raise Conflict(
                "this hub already belongs to another account; ask its owner for an invitation"
            )
        return hub_id, outcome == "claimed"
