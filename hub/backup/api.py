"""Endpoints of backups: /api/v1/backups...

Making and listing backups works from anywhere a client may reach the hub. Showing a new
recovery key and restoring are LAN-only: a request that came through the relay would put the
recovery key in the relay's hands, and a restore replaces the whole home's state.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from hub.api.messages import ApiResponse
from hub.api.router import Call, Router
from hub.backup.local import find_local, key_shown_once, recovery_key_info, set_up_recovery_key
from hub.backup.recovery_key import RecoveryKey
from hub.errors import Forbidden

if TYPE_CHECKING:
    from hub.backup.service import BackupService

_STRICT = ConfigDict(defer_build=True, extra="forbid")


class BackupCreate(BaseModel):
    """Make a backup now."""

    model_config = _STRICT
    offsite: bool | None = Field(
        default=None, description="also upload an encrypted copy (default: [backup] offsite)"
    )
    wait: bool = Field(
        default=False,
        description="answer when it is done (201 with the result) instead of at once (202)",
    )


class RestoreRequest(BaseModel):
    """Restore a backup from the backups folder (the hub restarts to apply it)."""

    model_config = _STRICT
    recovery_key: str | None = Field(
        default=None,
        max_length=1000,
        description="the 24 words or AGE-SECRET-KEY-1... string, for an encrypted archive",
    )


class RecoveryKeyCreate(BaseModel):
    """Set up the recovery key that off-site backups are encrypted to."""

    model_config = _STRICT
    replace: bool = Field(default=False, description="replace the key set up before")


def _lan_only(call: Call, what: str) -> None:
    if call.principal.startswith("relay:"):
        raise Forbidden(
            f"{what} only from the LAN (the relay must never see it); use the hub's own address"
        )


def add_routes(router: Router, service: BackupService) -> None:
    """Register the backup endpoints."""
    add = router.add

    @add("GET", "/backups", "Backups kept on the hub, newest first, and the status", tag="backup")
    async def list_backups(call: Call) -> Any:
        return {"backups": await service.list(), "status": service.status()}

    @add(
        "GET",
        "/backups/status",
        "What the backup is doing: running (phase, progress 0..1), last result, next due",
        tag="backup",
    )
    async def status(call: Call) -> Any:
        return service.status()

    @add(
        "POST",
        "/backups",
        "Make a backup now (progress: GET /backups/status or 'backup' events)",
        body=BackupCreate,
        status=202,
        tag="backup",
        responses={409: "a backup is already running"},
    )
    async def create(call: Call) -> Any:
        body: BackupCreate = call.body
        if body.wait:
            return ApiResponse(201, await service.create("manual", offsite=body.offsite))
        if service.job is not None:
            await service.create("manual")  # raises Conflict with what is running
        task = asyncio.create_task(service.create("manual", offsite=body.offsite))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # logged by create()
        await asyncio.sleep(0)  # let it take the lock, so the status below shows it
        return {"started": True, "status": service.status()}

    @add("GET", "/backups/recovery-key", "Is a recovery key set up? (public part)", tag="backup")
    async def key_info(call: Call) -> Any:
        return await recovery_key_info(service.hub.db)  # type: ignore[union-attr]

    @add(
        "POST",
        "/backups/recovery-key",
        "Set up the recovery key: its 24 words and QR-able string are shown in this answer only",
        body=RecoveryKeyCreate,
        status=201,
        tag="backup",
        responses={403: "only from the LAN", 409: "a key is already set up"},
    )
    async def new_key(call: Call) -> Any:
        _lan_only(call, "a recovery key is shown")
        key = await set_up_recovery_key(service.hub.db, call.body.replace)  # type: ignore[union-attr]
        return await asyncio.to_thread(key_shown_once, key)

    @add("GET", "/backups/{backup_id}", "One backup's manifest", tag="backup")
    async def one(call: Call) -> Any:
        backup = await asyncio.to_thread(find_local, service.folder, call.params["backup_id"])
        out = backup.to_dict()
        if backup.manifest is not None:
            out["files"] = [f.to_dict() for f in backup.manifest.files]
        return out

    @add("DELETE", "/backups/{backup_id}", "Delete a backup", status=204, tag="backup")
    async def delete(call: Call) -> Any:
        backup = await asyncio.to_thread(find_local, service.folder, call.params["backup_id"])
        await asyncio.to_thread(backup.path.unlink)
        return ApiResponse(204)

    @add(
        "POST",
        "/backups/{backup_id}/restore",
        "Check a backup and restore it: the hub restarts with the backup's state",
        body=RestoreRequest,
        status=202,
        tag="backup",
        responses={
            403: "only from the LAN",
            422: "the archive is damaged, too new, or the key is wrong (details.reason)",
        },
    )
    async def restore(call: Call) -> Any:
        _lan_only(call, "restores are started")
        body: RestoreRequest = call.body
        key = (
            await asyncio.to_thread(RecoveryKey.parse, body.recovery_key)
            if body.recovery_key
            else None
        )
        manifest = await service.stage_restore(call.params["backup_id"], key)
        hub = service.hub
        assert hub is not None
        asyncio.get_running_loop().call_later(0.2, hub.request_restart)  # after this answer
        return {"restoring": manifest.summary(), "restarting": True}
