"""The relay's persistent state: accounts, sessions, hubs, claims, shadows, queue.

Nothing stored here lets anyone act as a hub: hubs are known by their public keys, and claim
codes and session tokens are kept only as SHA-256 digests.

The same `RelayStore` runs on SQLite (one node, the default) and PostgreSQL (a cluster); see
relay/db/__init__.py for the SQL both understand. To add a table: append a `Migration` to
`MIGRATIONS` below (SQLite DDL; the PostgreSQL DDL is derived, or give it) and write its methods
here once, with `?` placeholders and `ON CONFLICT` upserts. Never edit a migration that has
shipped: add the next version. tests/relay/test_relay_store.py runs every method on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay.db import Database, Migration, open_database

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "accounts, sessions, hubs, claims, claim codes, shadows, queue",
        """
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
CREATE INDEX IF NOT EXISTS queue_by_hub ON queue(hub_id, status, seq)
""",
    ),
    Migration(
        2,
        "encrypted backups and their pieces",
        """
CREATE TABLE IF NOT EXISTS backups(
    id TEXT PRIMARY KEY, hub_id TEXT NOT NULL, account_id TEXT NOT NULL, vault_id TEXT NOT NULL,
    backup_id TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, complete INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS backups_by_vault ON backups(vault_id, complete, created);
CREATE INDEX IF NOT EXISTS backups_by_account ON backups(account_id);
CREATE TABLE IF NOT EXISTS backup_chunks(
    object_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY(object_id, seq))
""",
    ),
    Migration(
        3,
        "hub owners and members, invitations, Web Push subscriptions, node-shared keys",
        # Before this version every claim made a co-owner. The earliest claim of each hub stays
        # its owner; later ones become members (the owner can now see and remove them). The
        # partial unique index makes "one owner per hub" hold even for two claims at once.
        """
ALTER TABLE claims ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';
UPDATE claims SET role='member' WHERE EXISTS (SELECT 1 FROM claims c2
    WHERE c2.hub_id=claims.hub_id AND (c2.claimed_at<claims.claimed_at
    OR (c2.claimed_at=claims.claimed_at AND c2.account_id<claims.account_id)));
CREATE UNIQUE INDEX IF NOT EXISTS claims_one_owner ON claims(hub_id) WHERE role='owner';
CREATE TABLE IF NOT EXISTS invitations(
    id TEXT PRIMARY KEY, hub_id TEXT NOT NULL, email TEXT NOT NULL, from_account TEXT NOT NULL,
    created REAL NOT NULL, UNIQUE(hub_id, email));
CREATE INDEX IF NOT EXISTS invitations_by_email ON invitations(email);
CREATE TABLE IF NOT EXISTS push_subscriptions(
    endpoint TEXT PRIMARY KEY, account_id TEXT NOT NULL, p256dh TEXT NOT NULL,
    auth TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS push_by_account ON push_subscriptions(account_id);
CREATE TABLE IF NOT EXISTS node_secrets(
    name TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)
""",
    ),
)

OWNER = "owner"
MEMBER = "member"


@dataclass(frozen=True, slots=True)
class HubRow:
    """A hub the relay has seen."""

    id: str
    local_id: str
    name: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class Invitation:
    """An owner's invitation of an e-mail address to one hub."""

    id: str
    hub_id: str
    email: str
    from_account: str
    created: float


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A browser's Web Push subscription (the push service's URL and the browser's keys)."""

    endpoint: str
    account_id: str
    p256dh: str
    auth: str
    created: float


@dataclass(frozen=True, slots=True)
class BackupObject:
    """An encrypted backup the relay keeps (only ciphertext and its size and digest)."""

    id: str
    hub_id: str
    account_id: str
    vault_id: str
    backup_id: str
    size: int
    sha256: str
    received: int
    created: float
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """What the vault listing shows."""
        return {
            "object_id": self.id,
            "hub_id": self.hub_id,
            "backup_id": self.backup_id,
            "size_bytes": self.size,
            "sha256": self.sha256,
            "created": self.created,
        }


_INVITATION_COLUMNS = "id, hub_id, email, from_account, created"
_PUSH_COLUMNS = "p.endpoint, p.account_id, p.p256dh, p.auth, p.created"

_BACKUP_COLUMNS = (
    "id, hub_id, account_id, vault_id, backup_id, size, sha256, received, created, complete"
)


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
    """All persistent relay state behind small async methods, on SQLite or PostgreSQL."""

    def __init__(self, where: Path | str | Database) -> None:
        self.db: Database = where if isinstance(where, Database) else open_database(where)

    @property
    def kind(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.db.kind

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        await self.db.open()
        try:
            await self.db.migrate(MIGRATIONS)
        except BaseException:
            await self.db.close()
            raise

    async def close(self) -> None:
        """Disconnect."""
        await self.db.close()

    async def ping(self) -> None:
        """StoreUnavailable unless the database answers now (for /v1/health)."""
        await self.db.ping()

    # ------------------------------------------------------------- accounts, sessions
    async def add_account(
        self, account_id: str, email: str, password_hash: str, now: float
    ) -> bool:
        """Insert; False if the e-mail exists."""
        changed = await self.db.execute(
            "INSERT INTO accounts(id, email, password_hash, created) VALUES(?,?,?,?)"
            " ON CONFLICT DO NOTHING",
            (account_id, email, password_hash, now),
        )
        return changed > 0

    async def account_by_email(self, email: str) -> tuple[str, str] | None:
        """(account id, password hash)."""
        row = await self.db.fetchone(
            "SELECT id, password_hash FROM accounts WHERE email=?", (email,)
        )
        return (str(row[0]), str(row[1])) if row else None

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Store a rehashed password (parameters upgraded)."""
        await self.db.execute(
            "UPDATE accounts SET password_hash=? WHERE id=?", (password_hash, account_id)
        )

    async def add_session(self, token_hash: str, account_id: str, now: float, ttl: float) -> None:
        """Store a session token's digest."""
        await self.db.execute(
            "INSERT INTO sessions(token_hash, account_id, created, expires_at) VALUES(?,?,?,?)",
            (token_hash, account_id, now, now + ttl),
        )

    async def session_account(self, token_hash: str, now: float) -> str | None:
        """The account of an unexpired session."""
        found = await self.session(token_hash, now)
        return found[0] if found else None

    async def session(self, token_hash: str, now: float) -> tuple[str, float] | None:
        """(account id, expires at) of an unexpired session."""
        row = await self.db.fetchone(
            "SELECT account_id, expires_at FROM sessions WHERE token_hash=? AND expires_at>?",
            (token_hash, now),
        )
        return (str(row[0]), float(row[1])) if row else None

    async def delete_session(self, token_hash: str) -> None:
        """Log out."""
        await self.db.execute("DELETE FROM sessions WHERE token_hash=?", (token_hash,))

    # ------------------------------------------------------------- hubs, claims
    _UPSERT_HUB = (
        "INSERT INTO hubs(id, public_key, local_id, name, first_seen, last_seen)"
        " VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET local_id=excluded.local_id,"
        " name=excluded.name, last_seen=excluded.last_seen"
    )

    async def hub_key(self, hub_id: str) -> bytes | None:
        """The public key registered for a hub id."""
        row = await self.db.fetchone("SELECT public_key FROM hubs WHERE id=?", (hub_id,))
        return bytes(row[0]) if row else None

    async def upsert_hub(
        self, hub_id: str, public_key: bytes, local_id: str, name: str, now: float
    ) -> None:
        """Remember a hub that authenticated."""
        await self.db.execute(self._UPSERT_HUB, (hub_id, public_key, local_id, name, now, now))

    async def upsert_hubs(self, rows: Sequence[tuple[str, bytes, str, str, float]]) -> None:
        """Remember several hubs that authenticated, in one transaction."""
        await self.db.executemany(
            self._UPSERT_HUB,
            [(h, key, local, name, ts, ts) for h, key, local, name, ts in rows],
        )

    async def touch_hubs(self, hub_ids: Iterable[str], now: float) -> None:
        """Update last_seen of several hubs at once."""
        await self.db.executemany(
            "UPDATE hubs SET last_seen=? WHERE id=?", [(now, h) for h in hub_ids]
        )

    async def hub(self, hub_id: str) -> HubRow | None:
        """One hub's row."""
        row = await self.db.fetchone(
            "SELECT id, local_id, name, first_seen, last_seen FROM hubs WHERE id=?", (hub_id,)
        )
        return HubRow(*row) if row else None

    async def owns(self, account_id: str, hub_id: str) -> bool:
        """Is this account the hub's owner or one of its members?"""
        return await self.role(account_id, hub_id) is not None

    async def role(self, account_id: str, hub_id: str) -> str | None:
        """"owner", "member" or None."""
        row = await self.db.fetchone(
            "SELECT role FROM claims WHERE account_id=? AND hub_id=?", (account_id, hub_id)
        )
        return str(row[0]) if row else None

    async def account_hubs(self, account_id: str) -> list[tuple[HubRow, float, str]]:
        """The hubs an account owns or is a member of, with since when and its role."""
        rows = await self.db.fetchall(
            "SELECT h.id, h.local_id, h.name, h.first_seen, h.last_seen, c.claimed_at, c.role"
            " FROM claims c JOIN hubs h ON h.id=c.hub_id WHERE c.account_id=? ORDER BY h.id",
            (account_id,),
        )
        return [(HubRow(*r[:5]), float(r[5]), str(r[6])) for r in rows]

    async def hub_accounts(self, hub_id: str) -> list[str]:
        """The owner and members of a hub."""
        rows = await self.db.fetchall(
            "SELECT account_id FROM claims WHERE hub_id=? ORDER BY claimed_at, account_id",
            (hub_id,),
        )
        return [str(r[0]) for r in rows]

    async def hub_members(self, hub_id: str) -> list[tuple[str, str, str]]:
        """(account id, e-mail, role) of everyone in a hub: the owner first."""
        rows = await self.db.fetchall(
            "SELECT c.account_id, a.email, c.role FROM claims c JOIN accounts a"
            " ON a.id=c.account_id WHERE c.hub_id=? ORDER BY c.role='owner' DESC, c.claimed_at,"
            " c.account_id",
            (hub_id,),
        )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def add_claim_code(self, code_hash: str, hub_id: str, expires_at: float) -> None:
        """Store a new claim code's digest."""
        await self.db.execute(
            "INSERT INTO claim_codes(code_hash, hub_id, expires_at) VALUES(?,?,?)",
            (code_hash, hub_id, expires_at),
        )

    async def trim_claim_codes(self, hub_id: str, keep: int) -> None:
        """Forget a hub's oldest unused claim codes so that at most `keep` remain."""
        await self.db.execute(
            "DELETE FROM claim_codes WHERE hub_id=? AND used_at IS NULL AND code_hash NOT IN"
            " (SELECT code_hash FROM claim_codes WHERE hub_id=? AND used_at IS NULL"
            " ORDER BY expires_at DESC LIMIT ?)",
            (hub_id, hub_id, keep),
        )

    async def purge_expired(self, now: float) -> None:
        """Delete expired claim codes and sessions (they can never be used again)."""
        await self.db.execute("DELETE FROM claim_codes WHERE expires_at<?", (now,))
        await self.db.execute("DELETE FROM sessions WHERE expires_at<?", (now,))

    async def redeem_claim_code(
        self, code_hash: str, account_id: str, now: float
    ) -> tuple[str, str] | None:
        """Use a code once; None if unknown, used or expired, else (hub id, outcome).

        outcome: "claimed" (the account is now the owner), "already" (it already was in the
        hub) or "taken" (another account owns the hub: only an invitation lets anyone in).
        """
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "UPDATE claim_codes SET used_at=? WHERE code_hash=? AND used_at IS NULL"
                " AND expires_at>? RETURNING hub_id",
                (now, code_hash, now),
            )
            if row is None:
                return None
            hub_id = str(row[0])
            mine = await tx.fetchone(
                "SELECT 1 FROM claims WHERE hub_id=? AND account_id=?", (hub_id, account_id)
            )
            if mine is not None:
                return hub_id, "already"
            # A hub has at most one owner (claims_one_owner): a second claim changes nothing.
            added = await tx.execute(
                "INSERT INTO claims(hub_id, account_id, claimed_at, role) VALUES(?,?,?,'owner')"
                " ON CONFLICT DO NOTHING",
                (hub_id, account_id, now),
            )
        return hub_id, ("claimed" if added else "taken")

    async def remove_claim(self, account_id: str, hub_id: str) -> bool:
        """Take one account out of a hub (a member leaving or removed)."""
        changed = await self.db.execute(
            "DELETE FROM claims WHERE account_id=? AND hub_id=?", (account_id, hub_id)
        )
        return changed > 0

    async def unclaim_hub(self, hub_id: str) -> list[str]:
        """The owner gives the hub up: everyone leaves, invitations go; returns who was in."""
        async with self.db.transaction() as tx:
            rows = await tx.fetchall(
                "DELETE FROM claims WHERE hub_id=? RETURNING account_id", (hub_id,)
            )
            await tx.execute("DELETE FROM invitations WHERE hub_id=?", (hub_id,))
        return [str(r[0]) for r in rows]

    # ------------------------------------------------------------- invitations
    async def add_invitation(self, invitation: Invitation) -> Invitation:
        """Store an invitation; inviting the same e-mail again returns the existing one."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO invitations(id, hub_id, email, from_account, created)"
                " VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING",
                (invitation.id, invitation.hub_id, invitation.email, invitation.from_account,
                 invitation.created),
            )
            row = await tx.fetchone(
                f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE hub_id=? AND email=?",
                (invitation.hub_id, invitation.email),
            )
        assert row is not None
        return Invitation(*row)

    async def invitation(self, invitation_id: str) -> Invitation | None:
        """One invitation."""
        row = await self.db.fetchone(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE id=?", (invitation_id,)
        )
        return Invitation(*row) if row else None

    async def invitations_of_hub(self, hub_id: str) -> list[Invitation]:
        """A hub's open invitations, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE hub_id=? ORDER BY created, id",
            (hub_id,),
        )
        return [Invitation(*r) for r in rows]

    async def invitations_for(self, email: str) -> list[Invitation]:
        """Open invitations to an e-mail address, oldest first."""
        rows = await self.db.fetchall(
            f"SELECT {_INVITATION_COLUMNS} FROM invitations WHERE email=? ORDER BY created, id",
            (email,),
        )
        return [Invitation(*r) for r in rows]

    async def delete_invitation(self, invitation_id: str) -> bool:
        """Cancel or decline."""
        return await self.db.execute("DELETE FROM invitations WHERE id=?", (invitation_id,)) > 0

    async def accept_invitation(self, invitation_id: str, account_id: str, now: float) -> bool:
        """Use an invitation once: the account becomes a member (False if it is gone)."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "DELETE FROM invitations WHERE id=? RETURNING hub_id", (invitation_id,)
            )
            if row is None:
                return False
            await tx.execute(
                "INSERT INTO claims(hub_id, account_id, claimed_at, role) VALUES(?,?,?,'member')"
                " ON CONFLICT DO NOTHING",
                (str(row[0]), account_id, now),
            )
        return True

    # ------------------------------------------------------------- Web Push
    async def add_push_subscription(self, sub: PushSubscription, cap: int) -> bool:
        """Store (or move to this account) a subscription; False when the account has `cap`."""
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "SELECT COUNT(*) FROM push_subscriptions WHERE account_id=? AND endpoint<>?",
                (sub.account_id, sub.endpoint),
            )
            if row is not None and int(row[0]) >= cap:
                return False
            await tx.execute(
                "INSERT INTO push_subscriptions(endpoint, account_id, p256dh, auth, created)"
                " VALUES(?,?,?,?,?) ON CONFLICT(endpoint) DO UPDATE SET"
                " account_id=excluded.account_id, p256dh=excluded.p256dh, auth=excluded.auth",
                (sub.endpoint, sub.account_id, sub.p256dh, sub.auth, sub.created),
            )
        return True

    async def delete_push_subscription(self, endpoint: str, account_id: str | None = None) -> bool:
        """Forget a subscription (only the account's own when `account_id` is given)."""
        if account_id is None:
            changed = await self.db.execute(
                "DELETE FROM push_subscriptions WHERE endpoint=?", (endpoint,)
            )
        else:
            changed = await self.db.execute(
                "DELETE FROM push_subscriptions WHERE endpoint=? AND account_id=?",
                (endpoint, account_id),
            )
        return changed > 0

    async def push_subscriptions_of_hub(self, hub_id: str) -> list[PushSubscription]:
        """Every subscription of every owner and member of a hub."""
        rows = await self.db.fetchall(
            f"SELECT {_PUSH_COLUMNS} FROM push_subscriptions p JOIN claims c"
            " ON c.account_id=p.account_id WHERE c.hub_id=? ORDER BY p.created, p.endpoint",
            (hub_id,),
        )
        return [PushSubscription(*r) for r in rows]

    async def push_subscriptions_of(self, account_id: str) -> list[PushSubscription]:
        """One account's subscriptions."""
        rows = await self.db.fetchall(
            f"SELECT {_PUSH_COLUMNS} FROM push_subscriptions p WHERE p.account_id=?"
            " ORDER BY p.created, p.endpoint",
            (account_id,),
        )
        return [PushSubscription(*r) for r in rows]

    # ------------------------------------------------------------- keys shared by all nodes
    async def node_secret(self, name: str, make: str, now: float) -> str:
        """The value stored under `name`; the first node to ask stores `make`."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO node_secrets(name, value, created) VALUES(?,?,?)"
                " ON CONFLICT DO NOTHING",
                (name, make, now),
            )
            row = await tx.fetchone("SELECT value FROM node_secrets WHERE name=?", (name,))
        assert row is not None
        return str(row[0])

    async def account_email(self, account_id: str) -> str | None:
        """An account's e-mail address."""
        row = await self.db.fetchone("SELECT email FROM accounts WHERE id=?", (account_id,))
        return str(row[0]) if row else None

    # ------------------------------------------------------------- shadows
    async def shadows(self, hub_id: str) -> dict[str, tuple[int, dict[str, Any], float]]:
        """device id -> (version, device record, updated)."""
        rows = await self.db.fetchall(
            "SELECT device_id, version, doc, updated FROM shadows WHERE hub_id=?", (hub_id,)
        )
        return {str(r[0]): (int(r[1]), json.loads(r[2]), float(r[3])) for r in rows}

    async def write_shadows(
        self,
        upserts: Sequence[tuple[str, str, int, dict[str, Any], float]],
        deletes: Sequence[tuple[str, str]],
    ) -> None:
        """Apply a batch of cached shadow changes in one transaction."""
        async with self.db.transaction() as tx:
            if upserts:
                await tx.executemany(
                    "INSERT INTO shadows(hub_id, device_id, version, doc, updated)"
                    " VALUES(?,?,?,?,?) ON CONFLICT(hub_id, device_id) DO UPDATE SET"
                    " version=excluded.version, doc=excluded.doc, updated=excluded.updated",
                    [(h, d, v, json.dumps(doc), ts) for h, d, v, doc, ts in upserts],
                )
            if deletes:
                await tx.executemany(
                    "DELETE FROM shadows WHERE hub_id=? AND device_id=?", list(deletes)
                )

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
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO queue(hub_id, account_id, device_id, body, idempotency_key, created,"
                " expires_at, status) VALUES(?,?,?,?,?,?,?,'queued') RETURNING seq",
                (hub_id, account_id, device_id, json.dumps(body), key, now, expires_at),
            )
        assert row is not None
        return int(row[0])

    async def queue_count(self, hub_id: str) -> int:
        """How many writes wait for a hub."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM queue WHERE hub_id=? AND status='queued'", (hub_id,)
        )
        return int(row[0]) if row else 0

    async def hubs_with_queued(self) -> list[str]:
        """Hubs that have writes waiting."""
        rows = await self.db.fetchall("SELECT DISTINCT hub_id FROM queue WHERE status='queued'")
        return [str(r[0]) for r in rows]

    async def queued(self, hub_id: str, statuses: Sequence[str] = ("queued",)) -> list[QueuedWrite]:
        """Writes for a hub in order."""
        marks = ",".join("?" * len(statuses))
        rows = await self.db.fetchall(
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

    async def finish_queued(self, seq: int, status: str, result: Any) -> bool:
        """Mark a queued write delivered, rejected or expired; False if it was not queued.

        Only a write still queued changes, so two nodes finishing the same item record it once.
        """
        changed = await self.db.execute(
            "UPDATE queue SET status=?, result=? WHERE seq=? AND status='queued'",
            (status, json.dumps(result), seq),
        )
        return changed > 0

    # ------------------------------------------------------------- encrypted backups
    async def hub_owner(self, hub_id: str) -> str | None:
        """The hub's owner (its backups count against that account's quota)."""
        row = await self.db.fetchone(
            "SELECT account_id FROM claims WHERE hub_id=? AND role='owner'",
            (hub_id,),
        )
        return str(row[0]) if row else None

    async def backup_bytes(self, account_id: str) -> int:
        """What an account's backups take (finished or arriving), for its quota."""
        row = await self.db.fetchone(
            "SELECT COALESCE(SUM(size), 0) FROM backups WHERE account_id=?", (account_id,)
        )
        return int(row[0]) if row else 0

    async def add_backup(self, obj: BackupObject) -> None:
        """Start keeping an upload."""
        await self.db.execute(
            f"INSERT INTO backups({_BACKUP_COLUMNS}) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (obj.id, obj.hub_id, obj.account_id, obj.vault_id, obj.backup_id, obj.size,
             obj.sha256, 0, obj.created, 0),
        )

    async def add_backup_chunk(self, object_id: str, seq: int, data: bytes) -> None:
        """One piece of an upload, written before it is acknowledged."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO backup_chunks(object_id, seq, data) VALUES(?,?,?)"
                " ON CONFLICT(object_id, seq) DO UPDATE SET data=excluded.data",
                (object_id, seq, data),
            )
            await tx.execute(
                "UPDATE backups SET received=(SELECT COALESCE(SUM(LENGTH(data)), 0) FROM "
                "backup_chunks WHERE object_id=?) WHERE id=?",
                (object_id, object_id),
            )

    async def finish_backup(self, object_id: str) -> None:
        """Every piece arrived and checked."""
        await self.db.execute("UPDATE backups SET complete=1 WHERE id=?", (object_id,))

    async def backup(self, object_id: str) -> BackupObject | None:
        """One object."""
        row = await self.db.fetchone(
            f"SELECT {_BACKUP_COLUMNS} FROM backups WHERE id=?", (object_id,)
        )
        return _backup_row(row) if row else None

    async def backups_of(self, *, vault_id: str = "", hub_id: str = "") -> list[BackupObject]:
        """Finished objects of a vault or a hub, newest first."""
        column, value = ("vault_id", vault_id) if vault_id else ("hub_id", hub_id)
        rows = await self.db.fetchall(
            f"SELECT {_BACKUP_COLUMNS} FROM backups WHERE {column}=? AND complete=1 "
            "ORDER BY created DESC, id DESC",
            (value,),
        )
        return [_backup_row(r) for r in rows]

    async def backup_chunk(self, object_id: str, seq: int) -> bytes | None:
        """One stored piece (downloads read them in order)."""
        row = await self.db.fetchone(
            "SELECT data FROM backup_chunks WHERE object_id=? AND seq=?", (object_id, seq)
        )
        return bytes(row[0]) if row else None

    async def delete_backup(self, object_id: str) -> None:
        """Forget an object and its pieces."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM backup_chunks WHERE object_id=?", (object_id,))
            await tx.execute("DELETE FROM backups WHERE id=?", (object_id,))

    async def stale_backups(self, older_than: float) -> list[str]:
        """Uploads that never finished."""
        rows = await self.db.fetchall(
            "SELECT id FROM backups WHERE complete=0 AND created<?", (older_than,)
        )
        return [str(r[0]) for r in rows]


def _backup_row(row: Any) -> BackupObject:
    return BackupObject(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), int(row[5]),
        str(row[6]), int(row[7]), float(row[8]), bool(row[9]),
    )
