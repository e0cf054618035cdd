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
from relay.store import RelayStore

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
# No 0/O/1/I/L: the code is read off a screen and typed into a phone.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CACHE_S = 30.0


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (tokens, claim codes); never used for passwords."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_code(code: str) -> str:
    """Codes are typed by people: ignore case, spaces and dashes."""
    return re.sub(r"[\s-]", "", code).upper()


class Accounts:
    """Sign-up, log-in, sessions and claim codes over the store."""

    def __init__(self, store: RelayStore, session_ttl_s: float, code_ttl_s: float) -> None:
        self.store = store
        self.session_ttl_s = session_ttl_s
        self.code_ttl_s = code_ttl_s
        self._hasher = PasswordHasher()
        # Verify against this when the e-mail is unknown so timing does not reveal accounts.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        # token digest -> (account id, valid until): a phone request then costs no DB round
        # trip. Entries live at most CACHE_S so a logout on another node takes effect soon.
        self._sessions: dict[str, tuple[str, float]] = {}

    async def create(self, email: str, password: str) -> str:
        """A new account; returns its id."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise Invalid(f"{email!r} is not an e-mail address")
        if len(password) < MIN_PASSWORD:
            raise Invalid(f"the password must be at least {MIN_PASSWORD} characters")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        account_id = "acc_" + secrets.token_hex(8)
        if not await self.store.add_account(account_id, email, password_hash, time.time()):
            raise Conflict(f"{email} already has an account; log in instead")
        return account_id

    async def login(self, email: str, password: str) -> tuple[str, str]:
        """Check the password; returns (account id, new session token)."""
        row = await self.store.account_by_email(email.strip().lower())
        stored = row[1] if row else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            row = None
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
        """`Authorization: Bearer <token>` -> (account id, token digest)."""
        if not header or not header.startswith("Bearer "):
            raise Unauthorized("log in first: POST /v1/sessions, then send Authorization: Bearer")
        token_hash = digest(header[7:].strip())
        now = time.time()
        cached = self._sessions.get(token_hash)
        if cached is not None and cached[1] > now:
            return cached[0], token_hash
        account_id = await self.store.session_account(token_hash, now)
        if account_id is None:
            self._sessions.pop(token_hash, None)
            raise Unauthorized("the session token is unknown or expired; log in again")
        if len(self._sessions) > 100_000:
            self._sessions.clear()
        self._sessions[token_hash] = (account_id, now + CACHE_S)
        return account_id, token_hash

    async def logout(self, token_hash: str) -> None:
        """End a session."""
        self._sessions.pop(token_hash, None)
        await self.store.delete_session(token_hash)

    async def new_claim_code(self, hub_id: str) -> str:
        """A one-time code for a hub (shown on the hub, typed into the phone)."""
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
        await self.store.add_claim_code(digest(code), hub_id, time.time() + self.code_ttl_s)
        return f"{code[:5]}-{code[5:]}"

    async def claim(self, account_id: str, code: str) -> str:
        """Redeem a code for this account; returns the hub id."""
        hub_id = await self.store.redeem_claim_code(
            digest(normalize_code(code)), account_id, time.time()
        )
        if hub_id is None:
            raise NotFound("this claim code is unknown, used or expired; ask the hub for a new one")
        return hub_id
