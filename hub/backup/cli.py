"""`homehub backup`: make, list and restore backups; set up the recovery key.

`create` and `list` work whether or not the hub is running (the database snapshot is SQLite's
online backup, safe beside a running hub). `restore` needs the hub stopped, because it swaps
the data folder; a running hub restores through its API (POST /api/v1/backups/<id>/restore).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any

from hub.backup.recovery_key import RecoveryKey

_EPILOG = """\
examples:
  homehub backup key                      set up the recovery key (shown once: write it down)
  homehub backup create                   a backup now, into <data-dir>/backups
  homehub backup create --to /mnt/usb/hub.tar.zst --encrypt
  homehub backup list
  homehub backup restore 20261101T031500Z-3fa9          (the hub must be stopped)
  homehub backup restore /mnt/usb/hub.tar.zst.age --key-file words.txt
"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="the hub's data folder")
    p.add_argument("--config", type=Path, help="config file (default: <data-dir>/homehub.toml)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `backup` and its actions."""
    p = subparsers.add_parser(
        "backup",
        help="make, list and restore backups; set up the recovery key",
        description="Backups hold the database (devices, rules, timers, history, tokens), the "
        "config, the hub's identity key and learned IR codes. Restore puts all of it back, on "
        "this machine or a new one.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(title="actions", metavar="ACTION", required=True)

    c = sub.add_parser(
        "create",
        help="make a backup now",
        description="Make a backup now, whether or not the hub is running: the database is "
        "copied with SQLite's online backup, so a running hub carries on.",
        epilog="examples:\n  homehub backup create\n"
        "  homehub backup create --to /mnt/usb/hub.tar.zst --encrypt",
    )
    _common(c)
    c.add_argument("--to", type=Path, help="write the archive here instead of <data-dir>/backups")
    c.add_argument(
        "--encrypt",
        action="store_true",
        help="encrypt it to the recovery key (adds .age; only the key's words open it)",
    )
    c.set_defaults(func=_cmd_create)

    ls = sub.add_parser(
        "list",
        help="list the backups kept in <data-dir>/backups",
        description="List the backups in the backups folder, newest first, with what each holds.",
        epilog="example:\n  homehub backup list --json",
    )
    _common(ls)
    ls.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    ls.set_defaults(func=_cmd_list)

    r = sub.add_parser(
        "restore",
        help="restore a backup (file or id); the hub must be stopped",
        description="Check the archive completely, then replace the data folder's state with "
        "it. The previous state is kept in <data-dir>/.before-restore-<time>. A damaged, "
        "too-new or wrongly keyed archive is refused and nothing changes.",
        epilog="examples:\n  homehub backup restore 20261101T031500Z-3fa9\n"
        "  homehub backup restore /mnt/usb/hub.tar.zst.age --key-file words.txt\n"
        "  homehub backup restore --from-relay wss://relay.example.org --key-file words.txt",
    )
    _common(r)
    r.add_argument(
        "archive", nargs="?", help="an archive file, or the id of one in <data-dir>/backups"
    )
    r.add_argument("--key-file", type=Path, help="a file holding the recovery key's words")
    r.add_argument(
        "--from-relay",
        nargs="?",
        const="",
        metavar="URL",
        help="fetch the newest off-site backup from the relay (default: [relay] url); needs "
        "the recovery key, nothing else: this is how a new machine takes over a dead hub",
    )
    r.add_argument("--backup", metavar="ID", help="with --from-relay: this backup, not the newest")
    r.set_defaults(func=_cmd_restore)

    k = sub.add_parser(
        "key",
        help="set up the recovery key that off-site backups are encrypted to (shown once)",
        description="Make the recovery key. The hub keeps only its public half, so it can "
        "encrypt backups but never open them; the 24 words (or the QR code) are the only way "
        "to restore an off-site backup. With --status, say whether one is set up.",
        epilog="examples:\n  homehub backup key\n  homehub backup key --status",
    )
    _common(k)
    k.add_argument("--replace", action="store_true", help="replace the key set up before")
    k.add_argument("--status", action="store_true", help="only say whether a key is set up")
    k.set_defaults(func=_cmd_key)


def _config(args: argparse.Namespace) -> Any:
    from hub.config import load_config

    return load_config(args.data_dir, args.config)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _cmd_create(args: argparse.Namespace) -> int:
    from hub import __version__
    from hub.backup.local import load_public_key
    from hub.backup.sealed import SEALED_SUFFIX, seal
    from hub.backup.snapshot import BackupSource, make_archive

    cfg = _config(args)
    key = None
    if args.encrypt:
        _require_hub(cfg.db_path)
        key = asyncio.run(_with_db(cfg.db_path, load_public_key))
        if key is None:
            print("error: no recovery key yet; run 'homehub backup key' first", file=sys.stderr)
            return 2
    source = BackupSource(
        data_dir=cfg.data_dir,
        config_file=cfg.config_file,
        integrations=cfg.integrations,
        hub_name=cfg.name,
        software_version=__version__,
    )
    started = time.monotonic()
    dest = args.to.expanduser().absolute() if args.to else None
    path, manifest = make_archive(source, cfg.backups_path, dest_file=dest)
    if key is not None:
        sealed = path.with_name(path.name + SEALED_SUFFIX)
        seal(path, sealed, key)
        path.unlink()
        path = sealed
    counts = ", ".join(f"{v} {k}" for k, v in manifest.contents.items())
    print(
        f"Backup {manifest.id}: {path} ({_mb(path.stat().st_size)}, "
        f"{time.monotonic() - started:.1f} s)"
    )
    print(f"  holds {counts}")
    return 0


def _require_hub(db_path: Path) -> None:
    from hub.errors import ConfigError

    if not db_path.is_file():
        # Opening would create an empty database that no hub uses.
        raise ConfigError(
            f"no hub keeps its data in {db_path.parent} (there is no {db_path.name}); check "
            f"--data-dir (or HOMEHUB_DATA_DIR), or start the hub there once"
        )


async def _with_db(db_path: Path, action: Any) -> Any:
    from hub.store import Database

    db = Database(db_path)
    await db.open()
    try:
        return await action(db)
    finally:
        await db.close()


def _cmd_list(args: argparse.Namespace) -> int:
    import json

    from hub.backup.local import list_local

    cfg = _config(args)
    backups = list_local(cfg.backups_path)
    if args.json:
        print(
            json.dumps(
                {"folder": str(cfg.backups_path), "backups": [b.to_dict() for b in backups]},
                indent=1,
            )
        )
        return 0
    if not backups:
        print(f"No backups in {cfg.backups_path}. Make one: homehub backup create")
        return 0
    print(f"Backups in {cfg.backups_path}, newest first:")
    for b in backups:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.created))
        if b.manifest is not None:
            c = b.manifest.contents
            what = f"{c.get('devices', 0)} devices, {c.get('rules', 0)} rules"
        else:
            what = "encrypted" if b.encrypted else f"unreadable: {b.problem}"
        print(f"  {b.id}  {when}  {_mb(b.size):>9}  {b.reason or '-':9}  {what}")
    return 0


def _read_key(args: argparse.Namespace) -> RecoveryKey:
    if args.key_file:
        return RecoveryKey.parse(args.key_file.read_text("utf-8"))
    if os.environ.get("HOMEHUB_RECOVERY_KEY"):
        return RecoveryKey.parse(os.environ["HOMEHUB_RECOVERY_KEY"])
    if not sys.stdin.isatty():
        return RecoveryKey.parse(sys.stdin.read())
    return RecoveryKey.parse(getpass.getpass("Recovery key (24 words or AGE-SECRET-KEY-1...): "))


def _cmd_restore(args: argparse.Namespace) -> int:
    from hub.backup.local import find_local
    from hub.backup.restore import apply_pending_restore, stage_restore
    from hub.backup.sealed import is_sealed
    from hub.store.lock import DataDirLock

    cfg = _config(args)
    if args.from_relay is None and not args.archive:
        print("error: name an archive (file or id), or use --from-relay", file=sys.stderr)
        return 2
    lock = DataDirLock(cfg.data_dir)
    lock.acquire(
        "a running hub; stop it, or restore through its API (POST /api/v1/backups/<id>/restore)"
    )
    try:
        if args.from_relay is not None:
            from hub.backup.offsite import restore_from_relay

            url = args.from_relay or cfg.relay_url
            if not url:
                print("error: no relay: pass --from-relay URL or set [relay] url", file=sys.stderr)
                return 2
            relay_key = _read_key(args)
            print(f"Fetching the newest off-site backup from {url} ...", flush=True)
            manifest = asyncio.run(restore_from_relay(url, relay_key, cfg.data_dir, args.backup))
        else:
            archive = Path(args.archive).expanduser()
            if not archive.exists():
                archive = find_local(cfg.backups_path, args.archive).path
            key = _read_key(args) if is_sealed(archive) else None
            print(f"Checking {archive} ...", flush=True)
            manifest = stage_restore(archive, cfg.data_dir, key=key)
        summary = apply_pending_restore(cfg.data_dir)
    finally:
        lock.release()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(manifest.created))
    c = manifest.contents
    print(
        f"Restored backup {manifest.id} of hub {manifest.hub_id} ({manifest.hub_name}), "
        f"made {when}: {c.get('devices', 0)} devices, {c.get('rules', 0)} rules, "
        f"{c.get('tokens', 0)} tokens."
    )
    if summary is not None:
        print(f"The previous data is in {summary['previous_data']}.")
        for path in summary["external_conflicts"]:
            print(f"Kept your existing {path} (the backup's copy differs).")
    print("Start the hub: homehub hub")
    return 0


def _cmd_key(args: argparse.Namespace) -> int:
    from hub.backup.local import key_shown_once, recovery_key_info, set_up_recovery_key

    cfg = _config(args)
    _require_hub(cfg.db_path)
    if args.status:
        info = asyncio.run(_with_db(cfg.db_path, recovery_key_info))
        if info["configured"]:
            print(f"A recovery key is set up (fingerprint {info['fingerprint']}).")
        else:
            print("No recovery key yet: run 'homehub backup key'.")
        return 0
    key = asyncio.run(_with_db(cfg.db_path, lambda db: set_up_recovery_key(db, args.replace)))
    shown = key_shown_once(key)
    words = shown["words"]
    print("Your backup recovery key. Write the 24 words on paper and keep them away from the hub:")
    print()
    for row in range(6):
        print("   " + "  ".join(f"{row * 4 + i + 1:2}. {words[row * 4 + i]:<10}" for i in range(4)))
    print()
    print(f"The same key as one string (for a QR code or a password manager):\n   {shown['key']}")
    _print_qr(shown["key"])
    print(
        f"\nFingerprint {shown['fingerprint']}. This is shown only now; homehub keeps only "
        "the public half."
    )
    return 0


def _print_qr(text: str) -> None:
    if not sys.stdout.isatty():
        return
    try:
        import segno

        segno.make(text, error="m").terminal(compact=True)
    except Exception:  # a QR code is a convenience; the string above is the key
        return
