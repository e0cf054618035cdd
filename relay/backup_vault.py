"""Encrypted backups on the relay: uploads through the hub tunnel, downloads with the vault key.

The relay keeps what it cannot read: age-encrypted archives (the hub encrypts to its owner's
recovery key before anything leaves it), with their size and SHA-256, under the hub's owner
account (quota `backup_quota_bytes`) and the vault id. Uploads arrive as `backup_put`,
`backup_chunk`... `backup_done` frames, each piece written before it is acknowledged; the hub
sends the next only after the ack, so a tunnel carries one piece at a time.

Downloads need no account: a new machine with the recovery key derives the vault key and signs
each request (`Authorization: Vault <unix time>.<base64url signature>` over
`protocol.vault_auth_payload`):

    GET /v1/backup-vault/{vault_id}                 the vault's backups, newest first
    GET /v1/backup-vault/{vault_id}/{object_id}     one backup's bytes (ciphertext)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relay import protocol as p
from relay.config import RelayConfig
from relay.errors import Conflict, Invalid, NotFound, RelayError, Unauthorized
from relay.http_json import guard
from relay.openapi import ANY_OBJECT, arr, doc, obj
from relay.store import BackupObject, RelayStore

_LOG = logging.getLogger(__name__)

STALE_UPLOAD_S = 3600.0


class QuotaExceeded(Conflict):
    """The account's backups would take more than its quota."""


@dataclass
class _Upload:
    object_id: str
    size: int
    sha256: str
    keep: int
    next_seq: int = 0
    received: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BackupVault:
    """Takes uploads from hub tunnels and serves downloads to vault-key holders."""

    def __init__(self, config: RelayConfig, store: RelayStore) -> None:
        self.config = config
        self.store = store
        # (relay hub id, tunnel, upload id) -> the upload in progress on that tunnel
        self._uploads: dict[tuple[str, int, int], _Upload] = {}

    # ------------------------------------------------------------------ from hub tunnels
    async def on_message(self, hub_id: str, tunnel: int, message: p.Message) -> p.Message:
        """Answer one backup frame of a hub's tunnel: an ack, or an error frame saying why not.

        `tunnel` tells tunnels of the same hub apart (a replaced one may still be closing)."""
        call_id = getattr(message, "id", 0)
        key = (hub_id, tunnel, call_id)
        try:
            if isinstance(message, p.BackupPut):
                return await self._begin(key, message)
            if isinstance(message, p.BackupChunk):
                return await self._chunk(key, message)
            if isinstance(message, p.BackupDone):
                return await self._done(key, message)
        except RelayError as err:
            upload = self._uploads.pop(key, None)
            if upload is not None:
                await self.store.delete_backup(upload.object_id)
            return p.ErrorFrame(call_id, err.message)
        return p.ErrorFrame(call_id, f"{message.t} is not a backup message")

    async def _begin(self, key: tuple[str, int, int], m: p.BackupPut) -> p.Message:
        hub_id = key[0]
        if key in self._uploads:
            raise Invalid(f"upload {m.id} is already going on this tunnel")
        owner = await self.store.hub_owner(hub_id)
        if owner is None:
            raise Invalid(
                "this hub is not claimed by an account yet; claim it (homehub "
                "relay-code) before off-site backups can be kept"
            )
        if m.size <= 0 or len(m.sha256) != 64 or not m.vault_id or m.keep < 1:
            raise Invalid("backup_put needs a size, a SHA-256, a vault id and keep >= 1")
        try:
            Ed25519PublicKey.from_public_bytes(_unb64url(m.vault_id))
        except (ValueError, binascii.Error):
            raise Invalid("the vault id is not a public key") from None
        quota = self.config.backup_quota_bytes
        if m.size > quota:
            raise QuotaExceeded(
                f"this backup ({m.size / 1e6:.1f} MB) is larger than the "
                f"account's whole backup quota ({quota / 1e6:.0f} MB)"
            )
        # Make room from this hub's oldest backups (the newest always stays).
        used = await self.store.backup_bytes(owner)
        older = await self.store.backups_of(hub_id=hub_id)
        while used + m.size > quota and len(older) > 1:
            victim = older.pop()
            await self.store.delete_backup(victim.id)
            used -= victim.size
            _LOG.info(
                "backup vault: removed %s of hub %s to stay within the quota", victim.id, hub_id
            )
        if used + m.size > quota:
            raise QuotaExceeded(
                f"the account's backups would take {(used + m.size) / 1e6:.1f} MB of its "
                f"{quota / 1e6:.0f} MB quota; delete some, or ask the relay's operator for more"
            )
        object_id = "bk_" + secrets.token_hex(10)
        await self.store.add_backup(
            BackupObject(
                object_id,
                hub_id,
                owner,
                m.vault_id,
                m.backup_id[:100],
                m.size,
                m.sha256.lower(),
                0,
                time.time(),
                False,
            )
        )
        self._uploads[key] = _Upload(object_id, m.size, m.sha256.lower(), m.keep)
        return p.BackupAck(m.id, -1, object_id, used + m.size, quota)

    async def _chunk(self, key: tuple[str, int, int], m: p.BackupChunk) -> p.Message:
        upload = self._uploads.get(key)
        if upload is None:
            raise Invalid(f"no upload {m.id} on this tunnel; start with backup_put")
        if m.seq != upload.next_seq:
            raise Invalid(f"expected piece {upload.next_seq}, got {m.seq}")
        try:
            data = base64.b64decode(m.data, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("a backup piece is not valid base64") from None
        too_much = upload.received + len(data) > upload.size
        if not data or len(data) > p.BACKUP_CHUNK_BYTES or too_much:
            raise Invalid("a backup piece is empty, too large, or beyond the announced size")
        await self.store.add_backup_chunk(upload.object_id, m.seq, data)
        upload.digest.update(data)
        upload.received += len(data)
        upload.next_seq += 1
        return p.BackupAck(m.id, m.seq, upload.object_id)

    async def _done(self, key: tuple[str, int, int], m: p.BackupDone) -> p.Message:
        hub_id = key[0]
        upload = self._uploads.get(key)
        if upload is None:
            raise Invalid(f"no upload {m.id} on this tunnel")
        if upload.received != upload.size or upload.digest.hexdigest() != upload.sha256:
            raise Invalid(
                "the backup arrived incomplete or altered (size or SHA-256 differ); it was not kept"
            )
        del self._uploads[key]
        await self.store.finish_backup(upload.object_id)
        for old in (await self.store.backups_of(hub_id=hub_id))[upload.keep :]:
            await self.store.delete_backup(old.id)
        obj = await self.store.backup(upload.object_id)
        assert obj is not None
        used = await self.store.backup_bytes(obj.account_id)
        _LOG.info("backup vault: kept %s (%d bytes) of hub %s", obj.id, obj.size, hub_id)
        return p.BackupAck(m.id, upload.next_seq, obj.id, used, self.config.backup_quota_bytes)

    async def tunnel_closed(self, hub_id: str, tunnel: int) -> None:
        """Uploads on a closed tunnel will never finish: drop what they stored."""
        for key in [k for k in self._uploads if k[:2] == (hub_id, tunnel)]:
            await self.store.delete_backup(self._uploads.pop(key).object_id)

    async def sweep(self) -> None:
        """Drop uploads another node started and never finished."""
        for object_id in await self.store.stale_backups(time.time() - STALE_UPLOAD_S):
            await self.store.delete_backup(object_id)

    # ------------------------------------------------------------------ downloads
    def add_routes(self, router: web.UrlDispatcher) -> None:
        """GET /v1/backup-vault/{vault_id}[/{object_id}]."""
        router.add_get("/v1/backup-vault/{vault_id}", guard(self.list_objects))
        router.add_get("/v1/backup-vault/{vault_id}/{object_id}", guard(self.download))

    def _check(self, request: web.Request) -> str:
        vault_id = request.match_info["vault_id"]
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        ts_text, _, sig_text = value.partition(".")
        if scheme != "Vault" or not ts_text.isdigit() or not sig_text:
            raise Unauthorized(
                "sign vault requests: 'Authorization: Vault <unix time>.<signature>'"
                " with the key derived from the recovery key"
            )
        if abs(time.time() - int(ts_text)) > p.VAULT_SKEW_S:
            raise Unauthorized(
                "the request's time is too far from the relay's clock; check this machine's clock"
            )
        try:
            key = Ed25519PublicKey.from_public_bytes(_unb64url(vault_id))
            key.verify(
                _unb64url(sig_text),
                p.vault_auth_payload(request.method, request.path, int(ts_text)),
            )
        except (ValueError, binascii.Error, InvalidSignature):
            raise Unauthorized(
                "the vault signature does not match; is it the right recovery key?"
            ) from None
        return vault_id

    @doc(
        "The encrypted backups of a vault, newest first (signed with the recovery key)",
        response=obj({"backups": arr(ANY_OBJECT)}, ["backups"]),
        auth="vault",
        tag="backup-vault",
    )
    async def list_objects(self, request: web.Request) -> web.Response:
        """The vault's backups, newest first (none: an empty list, same as a wrong vault)."""
        vault_id = self._check(request)
        objects = await self.store.backups_of(vault_id=vault_id)
        return web.json_response({"backups": [o.to_dict() for o in objects]})

    @doc(
        "One backup's ciphertext (application/octet-stream), streamed",
        auth="vault",
        tag="backup-vault",
        errors=(404,),
    )
    async def download(self, request: web.Request) -> web.StreamResponse:
        """One backup's ciphertext, streamed piece by piece."""
        vault_id = self._check(request)
        obj = await self.store.backup(request.match_info["object_id"])
        if obj is None or obj.vault_id != vault_id or not obj.complete:
            raise NotFound("no such backup in this vault")
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(obj.size),
                "X-Backup-SHA256": obj.sha256,
            }
        )
        await response.prepare(request)
        seq = 0
        while (data := await self.store.backup_chunk(obj.id, seq)) is not None:
            await response.write(data)
            seq += 1
        await response.write_eof()
        return response
