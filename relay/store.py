"""The relay's SQLite database (aiosqlite, WAL): accounts, sessions, hubs, claims, shadows, queue.

Nothing stored here lets anyone act as a hub: hubs are known by their public keys, and claim
codes and session tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts(
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
    token_hash TEXT PRIMARY KEY, account_id TEXT NOT NULL, created REAL NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hubs(
    id TEXT PRIMARY KEY, public_key BLOB NOT NULL, local_id TEXT NOT NULL, name TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS claims(
    hub_id TEXT NOT NULL, account_id TEXT NOT NULL, claimed_at REAL NOT NULL,
    PRIMARY KEY(hub_id, account_id));
CREATE INDEX IF NOT EXISTS claims_by_account ON claims(account_id);
CREATE TABLE IF NOT EXISTS claim_codes(
    code_hash TEXT PRIMARY KEY, hub_id TEXT NOT NULL, expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS shadows(
    hub_id TEXT NOT NULL, device_id TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY(hub_id, device_id));
CREATE TABLE IF NOT EXISTS queue(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, hub_id TEXT NOT NULL, account_id TEXT NOT NULL,
    device_id TEXT NOT NULL, body TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    created REAL NOT NULL, expires_at REAL NOT NULL, status TEXT NOT NULL,
    result TEXT);
CREATE INDEX IF NOT EXISTS queue_by_hub ON queue(hub_id, status, seq);
"""


@dataclass(frozen=True, slots=True)
class HubRow:
    """A hub the relay has seen."""

    id: str
    local_id: str
    name: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class QueuedWrite:
    """A desired write waiting for its hub to come back."""

    seq: int
    hub_id: str
    account_id: str
    device_id: str
    body: dict[str, Any]
    idempotency_key: str
    created: float
    expires_at: float
    status: str
    result: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Phone API form."""
        return {
            "id": f"q{self.seq}",
            "device_id": self.device_id,
            "values": self.body.get("values", {}),
            "idempotency_key": self.idempotency_key,
            "created": self.created,
            "expires_at": self.expires_at,
            "status": self.status,
            "result": self.result,
        }


class RelayStore:
    """All persistent relay state behind small async methods."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("RelayStore.open() was not called")
        return self._db

    async def open(self) -> None:
        """Open (creating) the database."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.executescript(_SCHEMA)
        await self._db.commit()

    async def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        async with self.db.execute(sql, args) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        async with self.db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _write(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self.db.execute(sql, args) as cur:
            rowcount = cur.rowcount
        await self.db.commit()
        return rowcount

    # ------------------------------------------------------------- accounts, sessions
    async def add_account(
        self, account_id: str, email: str, password_hash: str, now: float
    ) -> bool:
        """Insert; False if the e-mail exists."""
        try:
            await self._write(
                "INSERT INTO accounts(id, email, password_hash, created) VALUES(?,?,?,?)",
                (account_id, email, password_hash, now),
            )
        except aiosqlite.IntegrityError:
            return False
        return True

    async def account_by_email(self, email: str) -> tuple[str, str] | None:
        """(account id, password hash)."""
        row = await self._one("SELECT id, password_hash FROM accounts WHERE email=?", (email,))
        return (str(row[0]), str(row[1])) if row else None

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Store a rehashed password (parameters upgraded)."""
        await self._write(
            "UPDATE accounts SET password_hash=? WHERE id=?", (password_hash, account_id)
        )

    async def add_session(self, token_hash: str, account_id: str, now: float, ttl: float) -> None:
        """Store a session token's digest."""
        await self._write(
            "INSERT INTO sessions(token_hash, account_id, created, expires_at) VALUES(?,?,?,?)",
            (token_hash, account_id, now, now + ttl),
        )

    async def session_account(self, token_hash: str, now: float) -> str | None:
        """The account of an unexpired session."""
        row = await self._one(
            "SELECT account_id FROM sessions WHERE token_hash=? AND expires_at>?", (token_hash, now)
        )
        return str(row[0]) if row else None

    async def delete_session(self, token_hash: str) -> None:
        """Log out."""
        await self._write("DELETE FROM sessions WHERE token_hash=?", (token_hash,))

    # ------------------------------------------------------------- hubs, claims
    async def hub_key(self, hub_id: str) -> bytes | None:
        """The public key registered for a hub id."""
        row = await self._one("SELECT public_key FROM hubs WHERE id=?", (hub_id,))
        return bytes(row[0]) if row else None

    async def upsert_hub(
        self, hub_id: str, public_key: bytes, local_id: str, name: str, now: float
    ) -> None:
        """Remember a hub that authenticated."""
        await self._write(
            "INSERT INTO hubs(id, public_key, local_id, name, first_seen, last_seen)"
            " VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET local_id=excluded.local_id,"
            " name=excluded.name, last_seen=excluded.last_seen",
            (hub_id, public_key, local_id, name, now, now),
        )

    async def upsert_hubs(self, rows: Sequence[tuple[str, bytes, str, str, float]]) -> None:
        """Remember several hubs that authenticated, in one transaction."""
        await self.db.executemany(
            "INSERT INTO hubs(id, public_key, local_id, name, first_seen, last_seen)"
            " VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET local_id=excluded.local_id,"
            " name=excluded.name, last_seen=excluded.last_seen",
            [(h, key, local, name, ts, ts) for h, key, local, name, ts in rows],
        )
        await self.db.commit()

    async def touch_hubs(self, hub_ids: Iterable[str], now: float) -> None:
        """Update last_seen of several hubs at once."""
        await self.db.executemany(
            "UPDATE hubs SET last_seen=? WHERE id=?", [(now, h) for h in hub_ids]
        )
        await self.db.commit()

    async def hub(self, hub_id: str) -> HubRow | None:
        """One hub's row."""
        row = await self._one(
            "SELECT id, local_id, name, first_seen, last_seen FROM hubs WHERE id=?", (hub_id,)
        )
        return HubRow(*row) if row else None

    async def owns(self, account_id: str, hub_id: str) -> bool:
        """Has this account claimed this hub?"""
        row = await self._one(
            "SELECT 1 FROM claims WHERE account_id=? AND hub_id=?", (account_id, hub_id)
        )
        return row is not None

    async def account_hubs(self, account_id: str) -> list[tuple[HubRow, float]]:
        """The hubs an account claimed, with when."""
        rows = await self._all(
            "SELECT h.id, h.local_id, h.name, h.first_seen, h.last_seen, c.claimed_at"
            " FROM claims c JOIN hubs h ON h.id=c.hub_id WHERE c.account_id=? ORDER BY h.id",
            (account_id,),
        )
        return [(HubRow(*r[:5]), float(r[5])) for r in rows]

    async def hub_accounts(self, hub_id: str) -> list[str]:
        """Accounts that claimed a hub."""
        return [
            str(r[0])
            for r in await self._all("SELECT account_id FROM claims WHERE hub_id=?", (hub_id,))
        ]

    async def add_claim_code(self, code_hash: str, hub_id: str, expires_at: float) -> None:
        """Store a new claim code's digest."""
        await self._write(
            "INSERT INTO claim_codes(code_hash, hub_id, expires_at) VALUES(?,?,?)",
            (code_hash, hub_id, expires_at),
        )

    async def redeem_claim_code(self, code_hash: str, account_id: str, now: float) -> str | None:
        """Use a code once: mark it used and add the claim in one transaction."""
        async with self.db.execute(
            "UPDATE claim_codes SET used_at=? WHERE code_hash=? AND used_at IS NULL"
            " AND expires_at>? RETURNING hub_id",
            (now, code_hash, now),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            await self.db.rollback()
            return None
        hub_id = str(row[0])
        await self.db.execute(
            "INSERT OR IGNORE INTO claims(hub_id, account_id, claimed_at) VALUES(?,?,?)",
            (hub_id, account_id, now),
        )
        await self.db.commit()
        return hub_id

    async def remove_claim(self, account_id: str, hub_id: str) -> bool:
        """Unclaim."""
        return (
            await self._write(
                "DELETE FROM claims WHERE account_id=? AND hub_id=?", (account_id, hub_id)
            )
            > 0
        )

    # ------------------------------------------------------------- shadows
    async def shadows(self, hub_id: str) -> dict[str, tuple[int, dict[str, Any], float]]:
        """device id -> (version, device record, updated)."""
        rows = await self._all(
            "SELECT device_id, version, doc, updated FROM shadows WHERE hub_id=?", (hub_id,)
        )
        return {str(r[0]): (int(r[1]), json.loads(r[2]), float(r[3])) for r in rows}

    async def write_shadows(
        self,
        upserts: Sequence[tuple[str, str, int, dict[str, Any], float]],
        deletes: Sequence[tuple[str, str]],
    ) -> None:
        """Apply a batch of cached shadow changes."""
        if upserts:
            await self.db.executemany(
                "INSERT OR REPLACE INTO shadows(hub_id, device_id, version, doc, updated)"
                " VALUES(?,?,?,?,?)",
                [(h, d, v, json.dumps(doc), ts) for h, d, v, doc, ts in upserts],
            )
        if deletes:
            await self.db.executemany(
                "DELETE FROM shadows WHERE hub_id=? AND device_id=?", list(deletes)
            )
        await self.db.commit()

    # ------------------------------------------------------------- queue
    async def enqueue(
        self,
        hub_id: str,
        account_id: str,
        device_id: str,
        body: dict[str, Any],
        key: str,
        now: float,
        expires_at: float,
    ) -> int:
        """Queue a desired write; returns its sequence number."""
        async with self.db.execute(
            "INSERT INTO queue(hub_id, account_id, device_id, body, idempotency_key, created,"
            " expires_at, status) VALUES(?,?,?,?,?,?,?,'queued')",
            (hub_id, account_id, device_id, json.dumps(body), key, now, expires_at),
        ) as cur:
            seq = cur.lastrowid
        await self.db.commit()
        assert seq is not None
        return int(seq)

    async def queue_count(self, hub_id: str) -> int:
        """How many writes wait for a hub."""
        row = await self._one(
            "SELECT COUNT(*) FROM queue WHERE hub_id=? AND status='queued'", (hub_id,)
        )
        return int(row[0])

    async def queued(self, hub_id: str, statuses: Sequence[str] = ("queued",)) -> list[QueuedWrite]:
        """Writes for a hub in order."""
        marks = ",".join("?" * len(statuses))
        rows = await self._all(
            "SELECT seq, hub_id, account_id, device_id, body, idempotency_key, created,"
            f" expires_at, status, result FROM queue WHERE hub_id=? AND status IN ({marks})"
            " ORDER BY seq",
            (hub_id, *statuses),
        )
        return [
            QueuedWrite(
                int(r[0]),
                r[1],
                r[2],
                r[3],
                json.loads(r[4]),
                r[5],
                r[6],
                r[7],
                r[8],
                json.loads(r[9]) if r[9] else None,
            )
            for r in rows
        ]

    async def finish_queued(self, seq: int, status: str, result: Any) -> None:
        """Mark a queued write delivered, rejected or expired."""
        await self._write(
            "UPDATE queue SET status=?, result=? WHERE seq=?", (status, json.dumps(result), seq)
        )
