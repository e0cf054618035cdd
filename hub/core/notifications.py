"""The notifications inbox: every message a rule sent, open until a person resolves it.

Rules `notify` (an alert, sent once) and `remind` (a reminder, repeated until resolved or its
condition clears). Each lands here as one row: a reminder's repeats update its row (`count`,
`updated`) rather than add rows, so the inbox shows "repeated 3 times", not three entries.
Every send publishes a `notification` event (the API WebSocket and the relay forward it; the
relay turns it into Web Push) and resolving publishes `notification_resolved`.

The store keeps the newest KEEP entries; older ones are deleted as new ones arrive, so a rule
that alerts every minute cannot grow the database without bound.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from hub.clock import Clock
from hub.errors import NotFound
from hub.events import EventBus, Notification, NotificationResolved
from hub.store import Database

KINDS = ("alert", "reminder")
StateFilter = Literal["open", "resolved", "all"]
#: Entries kept (newest); beyond that the oldest go, open or not.
KEEP = 1000
#: Prune once per this many new entries (a DELETE per send would be wasted work).
PRUNE_EVERY = 50
DEFAULT_PAGE = 50
MAX_PAGE = 200

_COLUMNS = (
    "seq, id, rule_id, kind, title, message, created, updated, count, state, resolved_at, "
    "resolved_by"
)


def new_notification_id() -> str:
    """A fresh inbox id (reminders take theirs when armed, before the first send)."""
    return "ntf_" + secrets.token_hex(6)


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    _seq, nid, rule_id, kind, title, message, created, updated, count, state, at, by = row
    return {
        "id": nid,
        "rule_id": rule_id,
        "kind": kind,
        "title": title,
        "message": message,
        "created": created,
        "updated": updated,
        "count": count,
        "state": state,
        "resolved_at": at,
        "resolved_by": by,
    }


class Inbox:
    """Records, lists and resolves notifications; publishes the events the app follows."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock, keep: int = KEEP) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.keep = keep
        self._added = 0

    async def record(
        self,
        *,
        rule_id: str,
        kind: str,
        title: str,
        message: str,
        notification_id: str = "",
        source: str = "",
        count: int = 1,
    ) -> str | None:
        """Store a send (a new entry, or the next repeat of a reminder's) and publish it.

        Returns the entry's id, or None when the entry was resolved meanwhile: a repeat never
        reopens it and nothing is published (no push after the person said "resolved").
        """
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        now = self.clock.now()
        nid = notification_id or new_notification_id()
        # `version` grows with every send (new entry or repeat), in commit order (one writer):
        # the relay link forwards everything past the last version it delivered.
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO notifications(id, rule_id, source, kind, title, message, created, "
                "updated, count, version) VALUES(?,?,?,?,?,?,?,?,?,"
                "(SELECT COALESCE(MAX(version), 0) + 1 FROM notifications)) "
                "ON CONFLICT(id) DO UPDATE SET updated=excluded.updated, count=excluded.count, "
                "title=excluded.title, message=excluded.message, version=excluded.version "
                "WHERE notifications.state='open'",
                (nid, rule_id, source, kind, title, message, now, now, count),
            )
            written = cur.rowcount
        if written != 1:
            return None
        self.bus.publish(
            Notification(
                ts=now,
                title=title,
                message=message,
                rule_id=rule_id,
                id=nid,
                kind=kind,
                count=count,
            )
        )
        self._added += 1
        if self._added % PRUNE_EVERY == 0:
            await self.prune()
        return nid

    async def prune(self) -> None:
        """Forget all but the newest `keep` entries."""
        await self.db.execute(
            "DELETE FROM notifications WHERE seq <= "
            "(SELECT seq FROM notifications ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (self.keep,),
        )

    async def is_resolved(self, notification_id: str) -> bool:
        """True once the entry was resolved (an entry not sent yet is not resolved)."""
        row = await self.db.fetchone(
            "SELECT state FROM notifications WHERE id=?", (notification_id,)
        )
        return row is not None and row[0] == "resolved"

    async def get(self, notification_id: str) -> dict[str, Any]:
        """One entry, or NotFound."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM notifications WHERE id=?", (notification_id,)
        )
        if row is None:
            raise NotFound(
                f"no notification {notification_id!r}; GET /api/v1/notifications lists them "
                f"(the inbox keeps the newest {self.keep})"
            )
        return _entry(row)

    async def page(
        self, state: StateFilter = "all", limit: int = DEFAULT_PAGE, before: int | None = None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Entries newest first, at most `limit`, older than cursor `before`; and the next cursor
        (None when there is nothing older)."""
        where = []
        params: list[Any] = []
        if state != "all":
            where.append("state=?")
            params.append(state)
        if before is not None:
            where.append("seq<?")
            params.append(before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM notifications {clause} ORDER BY seq DESC LIMIT ?",
            (*params, limit + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [_entry(r) for r in rows], (int(rows[-1][0]) if more else None)

    async def latest_version(self) -> int:
        """The version of the newest send (0: none yet)."""
        row = await self.db.fetchone("SELECT COALESCE(MAX(version), 0) FROM notifications")
        return int(row[0]) if row else 0

    async def sent_since(self, version: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """Sends after `version`, oldest first, as (version, `notification` event dict).

        A reminder repeated twice since then appears once, at its latest count.
        """
        rows = await self.db.fetchall(
            "SELECT version, id, rule_id, kind, title, message, updated, count "
            "FROM notifications WHERE version > ? ORDER BY version LIMIT ?",
            (version, limit),
        )
        out = []
        for ver, nid, rule_id, kind, title, message, updated, count in rows:
            event = Notification(
                ts=updated,
                title=title,
                message=message,
                rule_id=rule_id,
                id=nid,
                kind=kind,
                count=count,
            )
            out.append((int(ver), event.to_dict()))
        return out

    async def open_count(self) -> int:
        """How many entries wait for someone (the app's badge)."""
        row = await self.db.fetchone("SELECT COUNT(*) FROM notifications WHERE state='open'")
        return int(row[0]) if row else 0

    async def resolve(self, notification_id: str, by: str) -> dict[str, Any]:
        """Mark an entry resolved (idempotent: resolving again changes nothing, no event).

        The `notification_resolved` event tells the rules engine to stop the reminder's timer
        (its next firing also checks `is_resolved`, so a restart cannot bring it back).
        """
        entry = await self.get(notification_id)
        if entry["state"] == "resolved":
            return entry
        now = self.clock.now()
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE notifications SET state='resolved', resolved_at=?, resolved_by=? "
                "WHERE id=? AND state='open'",
                (now, by, notification_id),
            )
            changed = cur.rowcount
        if changed != 1:  # two resolves at once: the other one won (and published)
            return await self.get(notification_id)
        entry.update(state="resolved", resolved_at=now, resolved_by=by)
        self.bus.publish(
            NotificationResolved(
                ts=now, id=notification_id, rule_id=entry["rule_id"], resolved_by=by
            )
        )
        return entry
