"""Every RelayStore method on SQLite and on PostgreSQL: same answers from both engines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cluster_services import fresh_database

from relay.db import Migration, open_database
from relay.store import MIGRATIONS, BackupObject, Invitation, PushSubscription, RelayStore


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RelayStore]:
    async with store_location(request.param, tmp_path) as where:
        s = RelayStore(where)
        await s.open()
        try:
            yield s
        finally:
            await s.close()


@contextlib.asynccontextmanager
async def store_location(kind: str, tmp_path: Path) -> AsyncIterator[Path | str]:
    """A fresh PostgreSQL database URL, or an SQLite file path."""
    if kind == "postgresql":
        async with fresh_database() as url:
            yield url
    else:
        yield tmp_path / "relay.db"


async def test_accounts_sessions_hubs_and_claims(store: RelayStore) -> None:
    assert await store.add_account("acc_1", "a@example.org", "hash1", 1.0)
    assert not await store.add_account("acc_2", "a@example.org", "hash2", 2.0)  # e-mail taken
    assert await store.account_by_email("a@example.org") == ("acc_1", "hash1")
    await store.set_password_hash("acc_1", "hash3")
    assert await store.account_by_email("a@example.org") == ("acc_1", "hash3")
    assert await store.account_by_email("nobody@example.org") is None

    await store.add_session("tok", "acc_1", 10.0, 5.0)
    assert await store.session_account("tok", 12.0) == "acc_1"
    assert await store.session_account("tok", 16.0) is None  # expired
    await store.delete_session("tok")
    assert await store.session_account("tok", 12.0) is None

    await store.upsert_hub("hub_1", b"\x00\xffkey", "local", "Flat", 100.0)
    await store.upsert_hubs([("hub_1", b"\x00\xffkey", "local", "Renamed", 200.0),
                             ("hub_2", b"key2", "l2", "Other", 200.0)])
    await store.touch_hubs(["hub_2"], 300.0)
    assert await store.hub_key("hub_1") == b"\x00\xffkey"
    row = await store.hub("hub_1")
    assert row is not None
    assert (row.name, row.first_seen, row.last_seen) == ("Renamed", 100.0, 200.0)
    assert (await store.hub("hub_2")).last_seen == 300.0  # type: ignore[union-attr]

    await store.add_claim_code("code_hash", "hub_1", 50.0)
    results = await asyncio.gather(
        store.redeem_claim_code("code_hash", "acc_1", 40.0),
        store.redeem_claim_code("code_hash", "acc_1", 40.0),
    )
    # A code works once.
    assert sorted(results, key=lambda r: r is None) == [("hub_1", "claimed"), None]
    await store.add_claim_code("old_code", "hub_2", 50.0)
    assert await store.redeem_claim_code("old_code", "acc_1", 60.0) is None  # expired
    assert await store.owns("acc_1", "hub_1")
    assert not await store.owns("acc_1", "hub_2")
    assert [(h.id, at, role) for h, at, role in await store.account_hubs("acc_1")] == [
        ("hub_1", 40.0, "owner")
    ]
    assert await store.hub_accounts("hub_1") == ["acc_1"]
    assert await store.remove_claim("acc_1", "hub_1")
    assert not await store.remove_claim("acc_1", "hub_1")


async def test_one_owner_per_hub_members_and_invitations(store: RelayStore) -> None:
    for n in (1, 2, 3):
        assert await store.add_account(f"acc_{n}", f"u{n}@example.org", "h", 1.0)
    await store.upsert_hub("hub_1", b"k", "local", "Flat", 1.0)
    for code in ("c1", "c2", "c3", "c4"):
        await store.add_claim_code(code, "hub_1", 100.0)
    # Two accounts claiming the same unclaimed hub at once: exactly one becomes its owner.
    both = await asyncio.gather(
        store.redeem_claim_code("c1", "acc_1", 10.0), store.redeem_claim_code("c2", "acc_2", 10.0)
    )
    assert sorted(o for _, o in both) == ["claimed", "taken"]  # type: ignore[misc]
    owner = "acc_1" if both[0] == ("hub_1", "claimed") else "acc_2"
    other = "acc_2" if owner == "acc_1" else "acc_1"
    assert await store.role(owner, "hub_1") == "owner"
    assert await store.role(other, "hub_1") is None
    assert await store.redeem_claim_code("c3", owner, 11.0) == ("hub_1", "already")
    assert await store.hub_owner("hub_1") == owner

    first = await store.add_invitation(Invitation("inv_1", "hub_1", "u3@example.org", owner, 12.0))
    again = await store.add_invitation(Invitation("inv_2", "hub_1", "u3@example.org", owner, 13.0))
    assert again == first  # inviting the same address twice keeps one invitation
    assert [i.id for i in await store.invitations_for("u3@example.org")] == ["inv_1"]
    assert [i.id for i in await store.invitations_of_hub("hub_1")] == ["inv_1"]
    assert await store.invitation("inv_1") == first
    assert await store.accept_invitation("inv_1", "acc_3", 14.0)
    assert not await store.accept_invitation("inv_1", "acc_3", 15.0)  # used up
    assert await store.role("acc_3", "hub_1") == "member"
    assert await store.hub_members("hub_1") == [
        (owner, f"u{owner[-1]}@example.org", "owner"), ("acc_3", "u3@example.org", "member")
    ]
    assert await store.hub_accounts("hub_1") == [owner, "acc_3"]
    await store.add_invitation(Invitation("inv_3", "hub_1", "u9@example.org", owner, 16.0))
    assert await store.delete_invitation("inv_3")
    assert not await store.delete_invitation("inv_3")
    assert await store.account_email("acc_3") == "u3@example.org"
    assert await store.account_email("nobody") is None

    await store.add_invitation(Invitation("inv_4", "hub_1", "u9@example.org", owner, 17.0))
    assert sorted(await store.unclaim_hub("hub_1")) == sorted([owner, "acc_3"])
    assert await store.hub_accounts("hub_1") == []
    assert await store.invitations_of_hub("hub_1") == []
    # Unclaimed, the hub can be claimed again: by anyone, as its new owner.
    assert await store.redeem_claim_code("c4", other, 20.0) == ("hub_1", "claimed")


async def test_push_subscriptions_and_node_secrets(store: RelayStore) -> None:
    for n in (1, 2):
        await store.add_account(f"acc_{n}", f"u{n}@example.org", "h", 1.0)
    await store.upsert_hub("hub_1", b"k", "local", "Flat", 1.0)
    await store.add_claim_code("c", "hub_1", 100.0)
    await store.redeem_claim_code("c", "acc_1", 2.0)
    sub = PushSubscription("https://push.example/a", "acc_1", "key", "auth", 3.0)
    assert await store.add_push_subscription(sub, cap=2)
    assert await store.add_push_subscription(sub, cap=2)  # the same endpoint again: no new row
    assert await store.add_push_subscription(
        PushSubscription("https://push.example/b", "acc_1", "k2", "a2", 4.0), cap=2
    )
    assert not await store.add_push_subscription(
        PushSubscription("https://push.example/c", "acc_1", "k3", "a3", 5.0), cap=2
    )  # over the cap
    await store.add_push_subscription(
        PushSubscription("https://push.example/z", "acc_2", "k4", "a4", 6.0), cap=2
    )
    of_hub = await store.push_subscriptions_of_hub("hub_1")
    assert [s.endpoint for s in of_hub] == ["https://push.example/a", "https://push.example/b"]
    assert of_hub[0] == sub
    assert not await store.delete_push_subscription("https://push.example/a", "acc_2")  # not hers
    assert await store.delete_push_subscription("https://push.example/a", "acc_1")
    assert await store.delete_push_subscription("https://push.example/b")
    assert await store.push_subscriptions_of("acc_1") == []
    assert [s.endpoint for s in await store.push_subscriptions_of("acc_2")] == [
        "https://push.example/z"
    ]

    assert await store.node_secret("vapid", "first", 1.0) == "first"
    assert await store.node_secret("vapid", "second", 2.0) == "first"  # kept once, shared


async def test_migration_3_keeps_the_first_claimer_as_owner(tmp_path: Path) -> None:
    """Hubs co-owned before migration 3: the earliest claim stays owner, the rest members."""
    for kind in ("sqlite", "postgresql"):
        async with store_location(kind, tmp_path / kind) as where:
            if isinstance(where, Path):
                where.parent.mkdir(parents=True, exist_ok=True)
            db = open_database(where)
            await db.open()
            try:
                await db.migrate([m for m in MIGRATIONS if m.version < 3])
                await db.executemany(
                    "INSERT INTO claims(hub_id, account_id, claimed_at) VALUES(?,?,?)",
                    [("h1", "late", 9.0), ("h1", "early", 5.0), ("h2", "b", 1.0),
                     ("h2", "a", 1.0)],
                )
                await db.migrate(MIGRATIONS)
                rows = await db.fetchall(
                    "SELECT hub_id, account_id, role FROM claims ORDER BY hub_id, account_id"
                )
                assert [tuple(r) for r in rows] == [
                    ("h1", "early", "owner"), ("h1", "late", "member"),
                    ("h2", "a", "owner"), ("h2", "b", "member"),
                ]
            finally:
                await db.close()


async def test_shadows_and_the_queue(store: RelayStore) -> None:
    await store.write_shadows(
        [("hub_1", "lamp", 3, {"id": "lamp", "v": [1, "ü"]}, 5.0)], []
    )
    await store.write_shadows([("hub_1", "lamp", 4, {"id": "lamp"}, 6.0),
                               ("hub_1", "fan", 1, {"id": "fan"}, 6.0)], [])
    await store.write_shadows([], [("hub_1", "fan")])
    assert await store.shadows("hub_1") == {"lamp": (4, {"id": "lamp"}, 6.0)}

    seqs = [
        await store.enqueue("hub_1", "acc_1", "lamp", {"values": {"b": i}}, f"k{i}", 1.0, 99.0)
        for i in range(3)
    ]
    assert seqs == sorted(seqs)
    assert await store.queue_count("hub_1") == 3
    assert await store.hubs_with_queued() == ["hub_1"]
    assert await store.finish_queued(seqs[0], "delivered", {"ok": True})
    assert not await store.finish_queued(seqs[0], "delivered", {"ok": True})  # once only
    waiting = await store.queued("hub_1")
    assert [w.seq for w in waiting] == seqs[1:]
    assert waiting[0].body == {"values": {"b": 1}}
    everything = await store.queued("hub_1", ("queued", "delivered"))
    first = everything[0]
    assert (first.seq, first.status, first.result) == (seqs[0], "delivered", {"ok": True})


async def test_backups(store: RelayStore) -> None:
    await store.add_claim_code("c", "hub_1", 50.0)
    await store.redeem_claim_code("c", "acc_1", 1.0)
    assert await store.hub_owner("hub_1") == "acc_1"
    obj = BackupObject("obj_1", "hub_1", "acc_1", "vault", "b1", 6, "sha", 0, 10.0, False)
    await store.add_backup(obj)
    await store.add_backup_chunk("obj_1", 0, b"abc")
    await store.add_backup_chunk("obj_1", 1, b"\x00ef")
    await store.add_backup_chunk("obj_1", 1, b"def")  # a resent piece replaces itself
    assert await store.backup_bytes("acc_1") == 6
    assert await store.backups_of(vault_id="vault") == []  # not complete yet
    assert await store.stale_backups(20.0) == ["obj_1"]
    await store.finish_backup("obj_1")
    got = await store.backup("obj_1")
    assert got is not None
    assert (got.received, got.complete) == (6, True)
    assert [o.id for o in await store.backups_of(hub_id="hub_1")] == ["obj_1"]
    assert await store.backup_chunk("obj_1", 1) == b"def"
    await store.delete_backup("obj_1")
    assert await store.backup("obj_1") is None
    assert await store.backup_chunk("obj_1", 0) is None
    assert await store.backup_bytes("acc_1") == 0


async def test_migrations_are_versioned_and_run_once(tmp_path: Path) -> None:
    for kind in ("sqlite", "postgresql"):
        async with store_location(kind, tmp_path) as where:
            db = open_database(where)
            await db.open()
            try:
                latest = max(m.version for m in MIGRATIONS)
                assert await db.migrate(MIGRATIONS) == latest
                assert await db.migrate(MIGRATIONS) == latest  # nothing to do the second time
                extra = Migration(latest + 1, "a test table", "CREATE TABLE t(x REAL, b BLOB)")
                assert await db.migrate([*MIGRATIONS, extra]) == latest + 1
                await db.execute("INSERT INTO t(x, b) VALUES(?, ?)", (1.5, b"\x01"))
                assert await db.fetchall("SELECT x, b FROM t") == [(1.5, b"\x01")]
                versions = await db.fetchall("SELECT version FROM schema_version ORDER BY 1")
                assert [int(v[0]) for v in versions] == list(range(1, latest + 2))
            finally:
                await db.close()


async def test_cached_shadows_whose_write_failed_are_written_by_the_next_flush(
    store: RelayStore,
) -> None:
    """The shadow cache writes behind; a write that fails (here: the table is gone for a
    moment) keeps what it took, and what changed meanwhile wins: a device removed while the
    write failed stays removed, one put again stays."""
    from relay.shadows import ShadowCache

    cache = ShadowCache(store, flush_s=3600.0)
    await cache.put("hub_1", "lamp", 1, {"power": True}, force=False)
    await cache.put("hub_1", "fan", 1, {"power": False}, force=False)
    await cache.flush()
    await cache.put("hub_1", "lamp", 2, {"power": False}, force=False)
    await cache.remove("hub_1", "fan")
    await store.db.execute("ALTER TABLE shadows RENAME TO shadows_away")
    with pytest.raises(Exception, match="shadows"):
        await cache.flush()
    await store.db.execute("ALTER TABLE shadows_away RENAME TO shadows")
    await cache.put("hub_1", "heater", 1, {"power": True}, force=False)
    await cache.flush()
    stored = await store.shadows("hub_1")
    assert {d: (v, doc) for d, (v, doc, _) in stored.items()} == {
        "lamp": (2, {"power": False}),
        "heater": (1, {"power": True}),
    }


async def test_a_hub_gone_offline_during_a_failed_write_keeps_its_records_for_the_next(
    store: RelayStore,
) -> None:
    """A hub whose tunnel ends while a write of its records is under way is unloaded only
    once they are written: unloaded at once, a failed write had nothing to write again."""
    from relay.shadows import ShadowCache

    cache = ShadowCache(store, flush_s=3600.0)
    await cache.put("hub_1", "lamp", 1, {"power": True}, force=False)
    await store.db.execute("ALTER TABLE shadows RENAME TO shadows_away")
    writing = asyncio.create_task(cache.flush())
    await asyncio.sleep(0)  # the write took the records and waits for the database
    cache.unload("hub_1")
    with pytest.raises(Exception, match="shadows"):
        await writing
    await store.db.execute("ALTER TABLE shadows_away RENAME TO shadows")
    await cache.flush()
    stored = await store.shadows("hub_1")
    assert {d: (v, doc) for d, (v, doc, _) in stored.items()} == {"lamp": (1, {"power": True})}
    assert "hub_1" not in cache._hubs  # written, then unloaded
    # Back online before a write: not unloaded under it.
    await cache.put("hub_1", "lamp", 2, {"power": False}, force=False)
    cache.unload("hub_1")
    await cache.devices("hub_1")
    await cache.flush()
    assert cache._hubs["hub_1"]["lamp"].version == 2
