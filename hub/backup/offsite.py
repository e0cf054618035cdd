"""Fetching off-site backups from the relay with nothing but the recovery key.

A new machine has no hub identity and no account session yet. The recovery key gives it the
vault key, which signs each request (`relay.protocol.vault_auth_payload`); the relay lists and
serves the ciphertext stored under that vault, and only the recovery key opens it here.

    backups = await list_vault(relay_url, key)            # newest first
    manifest = await restore_from_relay(relay_url, key, data_dir)   # staged; apply at start
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from hub.backup.manifest import ArchiveRejected, Manifest
from hub.backup.recovery_key import RecoveryKey
from hub.backup.restore import stage_restore
from hub.errors import NotFound, Unavailable
from relay import protocol as p

VAULT_PATH = "/v1/backup-vault"


def http_base(relay_url: str) -> str:
    """`https://relay.example.org` from any of the forms `[relay] url` accepts."""
    url = relay_url.rstrip("/")
    if url.endswith("/v1/hub/connect"):
        url = url[: -len("/v1/hub/connect")]
    if url.startswith("ws://"):
        url = "http://" + url[5:]
    elif url.startswith("wss://"):
        url = "https://" + url[6:]
    return url


def _headers(key: RecoveryKey, method: str, path: str) -> dict[str, str]:
    ts = int(time.time())
    signature = key.vault_signer().sign(p.vault_auth_payload(method, path, ts))
    sig = base64.urlsafe_b64encode(signature).decode().rstrip("=")
    return {"Authorization": f"Vault {ts}.{sig}"}


async def _error(resp: aiohttp.ClientResponse) -> str:
    try:
        return str((await resp.json())["error"]["message"])
    except (aiohttp.ContentTypeError, ValueError, KeyError, TypeError):
        return f"HTTP {resp.status}"


async def list_vault(relay_url: str, key: RecoveryKey) -> list[dict[str, Any]]:
    """The off-site backups this recovery key opens, newest first."""
    path = f"{VAULT_PATH}/{key.vault_id}"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                http_base(relay_url) + path,
                headers=_headers(key, "GET", path),
                timeout=aiohttp.ClientTimeout(total=30),
            ) as resp,
        ):
            if resp.status != 200:
                raise Unavailable(f"the relay refused to list the backups: {await _error(resp)}")
            return list((await resp.json())["backups"])
    except (aiohttp.ClientError, TimeoutError) as err:
        raise Unavailable(
            f"cannot reach the relay at {relay_url}: {err or type(err).__name__}; "
            "check the URL and the network"
        ) from err


async def download(
    relay_url: str,
    key: RecoveryKey,
    obj: dict[str, Any],
    dest: Path,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Fetch one backup's ciphertext into `dest`, checking its size and SHA-256."""
    path = f"{VAULT_PATH}/{key.vault_id}/{obj['object_id']}"
    digest = hashlib.sha256()
    size = 0
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                http_base(relay_url) + path,
                headers=_headers(key, "GET", path),
                timeout=aiohttp.ClientTimeout(total=None, sock_read=60),
            ) as resp,
        ):
            if resp.status != 200:
                raise Unavailable(f"the relay refused the download: {await _error(resp)}")
            fd = await asyncio.to_thread(os.open, dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                async for chunk in resp.content.iter_chunked(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(out.write, chunk)
                    if progress is not None:
                        progress(size / max(1, int(obj["size_bytes"])))
    except (aiohttp.ClientError, TimeoutError) as err:
        raise Unavailable(
            f"the download from {relay_url} broke off: {err or type(err).__name__}; try again"
        ) from err
    if size != int(obj["size_bytes"]) or digest.hexdigest() != obj["sha256"]:
        raise ArchiveRejected(
            "damaged",
            "the backup arrived incomplete or altered (its size or "
            "SHA-256 differ from what the relay stored); try again",
        )


async def restore_from_relay(
    relay_url: str,
    key: RecoveryKey,
    data_dir: Path,
    backup: str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Manifest:
    """Download the newest (or the named) off-site backup and stage it for the next start."""
    await asyncio.to_thread(key.public)  # derives the vault key off the loop (loads the crypto)
    backups = await list_vault(relay_url, key)
    if not backups:
        raise NotFound(
            "the relay keeps no backups for this recovery key; check that it is "
            "the key of this home, and that backups went off-site (GET "
            "/api/v1/backups/status on the old hub said 'uploaded')"
        )
    chosen = backups[0]
    if backup is not None:
        match = [b for b in backups if backup in (b["object_id"], b["backup_id"])]
        if not match:
            raise NotFound(
                f"no off-site backup {backup!r}; there are "
                f"{', '.join(b['backup_id'] for b in backups[:5])}"
            )
        chosen = match[0]
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    dest = data_dir / f".restore-download-{secrets.token_hex(4)}.age"
    try:
        report = progress or (lambda phase, fraction: None)
        await download(relay_url, key, chosen, dest, lambda f: report("download", f))
        return await asyncio.to_thread(stage_restore, dest, data_dir, key=key)
    finally:
        await asyncio.to_thread(dest.unlink, True)
