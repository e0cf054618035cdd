"""Bearer tokens (stored as SHA-256 hashes) and one-time pairing codes.

Tokens are 256-bit random strings, so a fast hash is enough; the token itself is shown once,
when it is made, and never stored. Pairing codes are short for typing, so guesses are limited.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from hub.clock import Clock
from hub.core.pairing_limits import PairingLimits
from hub.errors import Invalid, NotFound, Unauthorized
from hub.store import Database

_LOG = logging.getLogger(__name__)

TOKEN_PREFIX = "hh_"
REFRESH_S = 2.0
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by people
CODE_TTL_S = 600.0
MAX_FAILED_PAIRINGS_PER_MIN = 10


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """Pairing codes are accepted with or without the dash and in any case."""
    return code.replace("-", "").replace(" ", "").upper()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token's public record (never the token itself)."""

    id: str
    name: str
    created: float
    last_used: float | None
    revoked: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "created": self.created,
            "last_used": self.last_used,
            "revoked": self.revoked,
        }


class Auth:
    """Issues, checks and revokes tokens; makes and redeems pairing codes."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, str] = {}  # hash -> token id, for valid tokens only
        self.pairing_limits = PairingLimits(per_address=MAX_FAILED_PAIRINGS_PER_MIN)

    async def load(self) -> None:
        """Cache valid token hashes (again: `homehub token` may change them beside the hub)."""
        rows = await self.db.fetchall("SELECT hash, id FROM tokens WHERE revoked IS NULL")
        self._cache = {h: i for h, i in rows}

    async def refresh_forever(self, interval_s: float = REFRESH_S) -> None:
        """Reload the cache periodically so CLI-made and CLI-revoked tokens take effect."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.load()
            except Exception:
                _LOG.exception("reloading tokens failed; keeping the previous set")

    async def create_token(self, name: str) -> tuple[str, str]:
        """A new token: returns (token id, token). The token is shown once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        digest = _hash(token)
        await self.db.execute(
            "INSERT INTO tokens(id, name, hash, created) VALUES(?,?,?,?)",
            (token_id, name, digest, self.clock.now()),
        )
        self._cache[digest] = token_id
        return token_id, token

    async def verify(self, authorization: str | None) -> str:
        """The token id for an `Authorization: Bearer ...` header, or Unauthorized.

        A token `homehub token create` made beside the running hub is in the database before
        the next periodic reload, so a cache miss asks the database once before refusing:
        a person who pastes a fresh token must not get 401 for two seconds."""
        try:
            return self.check(authorization)
        except Unauthorized:
            token = (authorization or "").partition(" ")[2].strip()
            if not token.startswith(TOKEN_PREFIX):
                raise
            digest = _hash(token)
            row = await self.db.fetchone(
                "SELECT id FROM tokens WHERE hash=? AND revoked IS NULL", (digest,)
            )
            if row is None:
                raise
            self._cache[digest] = row[0]
            return str(row[0])

    def check(self, authorization: str | None) -> str:
        """The token id for an `Authorization: Bearer ...` header, or Unauthorized (the
        cached set only; `verify` also finds tokens made beside the hub since the reload)."""
        if not authorization:
            raise Unauthorized(
                "missing token: send 'Authorization: Bearer <token>' (pair with 'homehub pair')"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        token_id = self._cache.get(_hash(token.strip()))
        if token_id is None:
            raise Unauthorized("unknown or revoked token; pair again to get a new one")
        return token_id

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token's record, newest first."""
        rows = await self.db.fetchall(
            "SELECT id, name, created, last_used, revoked FROM tokens ORDER BY created DESC"
        )
        return [TokenInfo(*r) for r in rows]

    async def revoke(self, token_id: str) -> None:
        """Revoke a token; it stops working at once."""
        row = await self.db.fetchone("SELECT hash FROM tokens WHERE id=?", (token_id,))
        if row is None:
            raise NotFound(f"no token {token_id!r}; GET /api/v1/tokens lists them")
        await self.db.execute(
            "UPDATE tokens SET revoked=? WHERE id=? AND revoked IS NULL",
            (self.clock.now(), token_id),
        )
        self._cache.pop(row[0], None)

    async def create_pairing_code(self, ttl_s: float = CODE_TTL_S) -> str:
        """A one-time code such as ``K7QM-2XPA`` that a new client exchanges for a token."""
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        await self.db.execute(
            "INSERT INTO pairing_codes(hash, expires) VALUES(?, ?)",
            (_hash(raw), self.clock.now() + ttl_s),
        )
        return f"{raw[:4]}-{raw[4:]}"

    async def pair(self, code: str, client_name: str, address: str = "") -> tuple[str, str]:
        """Exchange a pairing code for a token (once); wrong guesses are rate limited per
        client address (`address`; "" for the relay tunnel) and, far higher, per hub."""
        self.pairing_limits.check(address)
        if not client_name.strip():
            raise Invalid("client_name must not be empty")
        digest = _hash(normalise_code(code))
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE pairing_codes SET used=? WHERE hash=? AND used IS NULL AND expires>?",
                (now, digest, now),
            )
            ok = cur.rowcount == 1
        if not ok:
            self.pairing_limits.failed(address)
            raise Unauthorized(
                "that pairing code is wrong, expired or already used; "
                "run 'homehub pair' on the hub for a new one"
            )
        return await self.create_token(client_name.strip())
