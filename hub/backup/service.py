"""The backup component of a running hub: backups on demand and on a schedule, their status,
and restores started through the API.

Progress goes three ways: the log (a line per phase, one clear result line), `BackupProgress`
events (the API WebSocket and the relay carry them to the TUI and phones) and `status()`
(`GET /api/v1/backups/status`), which also says when the next scheduled backup is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hub import __version__
from hub.backup.local import find_local, list_local, load_public_key, prune
from hub.backup.manifest import Manifest
from hub.backup.restore import stage_restore
from hub.backup.sealed import SEALED_SUFFIX, seal
from hub.backup.snapshot import BackupSource, make_archive, new_backup_id
from hub.errors import Conflict, HubError
from hub.events import BackupProgress

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.backup.recovery_key import PublicRecoveryKey, RecoveryKey
    from hub.config import HubConfig

_LOG = logging.getLogger(__name__)

FIRST_DELAY_S = 15 * 60.0  # a hub never backed up gets its first one soon, not at boot
RETRY_S = 3600.0
LAST_KV = "backup_last"
#: Share of the whole job per phase (for one progress figure).
_WEIGHTS = {"snapshot": 0.3, "files": 0.05, "archive": 0.35, "encrypt": 0.1, "upload": 0.2}
_ORDER = list(_WEIGHTS)
_EVENT_EVERY_S = 0.25


class OffsiteTarget(Protocol):
    """Where encrypted copies go (the relay link implements it)."""

    async def upload_backup(
        self, path: Path, backup_id: str, vault_id: str, keep: int, progress: Any
    ) -> dict[str, Any]:
        """Upload one sealed archive; what the far side says about it."""


@dataclass
class Job:
    """The backup running now."""

    id: str
    reason: str
    started: float
    phase: str = "snapshot"
    progress: float = 0.0


class BackupService:
    """Makes, lists, schedules and restores backups of one hub."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.folder = config.backups_path
        self.hub: Hub | None = None
        self.offsite: OffsiteTarget | None = None
        self.job: Job | None = None
        self.last: dict[str, Any] | None = None
        self.next_due: float | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_event = 0.0

    # ------------------------------------------------------------------ HubComponent
    async def start(self, hub: Hub) -> None:
        """Read the last result and start the schedule."""
        self.hub = hub
        raw = await hub.db.get_kv(LAST_KV)
        self.last = json.loads(raw) if raw else None
        for component in hub.components:
            if hasattr(component, "upload_backup") and component is not self:
                self.offsite = component  # type: ignore[assignment]
        if self.config.backup_interval_h > 0:
            self._task = asyncio.create_task(self._schedule(), name="backup-schedule")

    async def stop(self) -> None:
        """Stop the schedule; a backup in progress finishes first (it is one file write)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with asyncio.timeout(120):
            async with self._lock:
                pass

    def register_routes(self, router: Any) -> None:
        """/api/v1/backups..."""
        from hub.backup.api import add_routes

        add_routes(router, self)

    # ------------------------------------------------------------------ schedule
    async def _last_scheduled(self) -> float | None:
        backups = await asyncio.to_thread(list_local, self.folder)
        times = [b.created for b in backups if b.reason == "scheduled"]
        return max(times) if times else None

    async def _schedule(self) -> None:
        assert self.hub is not None
        clock = self.hub.clock
        interval = self.config.backup_interval_h * 3600.0
        last = await self._last_scheduled()
        self.next_due = last + interval if last else clock.now() + FIRST_DELAY_S
        while True:
            await clock.sleep_until(self.next_due)
            try:
                await self.create(reason="scheduled")
                self.next_due = clock.now() + interval
            except Conflict:  # someone started one by hand just now: that one counts
                self.next_due = clock.now() + interval
            except asyncio.CancelledError:
                raise
            except Exception:
                # create() logged the reason and recorded it in status and events.
                self.next_due = clock.now() + min(interval, RETRY_S)

    # ------------------------------------------------------------------ making backups
    def _publish(self, state: str, message: str = "", force: bool = False) -> None:
        hub, job = self.hub, self.job
        if hub is None or job is None:
            return
        now = time.monotonic()
        if not force and now - self._last_event < _EVENT_EVERY_S:
            return
        self._last_event = now
        hub.bus.publish(
            BackupProgress(
                ts=hub.clock.now(),
                state=state,
                phase=job.phase,
                progress=round(job.progress, 3),
                backup_id=job.id,
                message=message,
            )
        )

    def _advance(self, phase: str, fraction: float) -> None:
        job = self.job
        if job is None:
            return
        new_phase = phase != job.phase
        if new_phase:
            _LOG.info("backup %s: %s", job.id, phase)
        job.phase = phase
        base = sum(_WEIGHTS[p] for p in _ORDER[: _ORDER.index(phase)])
        job.progress = min(1.0, base + _WEIGHTS[phase] * max(0.0, min(1.0, fraction)))
        self._publish("running", force=new_phase)  # each phase shows, however quick

    async def create(
        self, reason: str = "manual", dest_file: Path | None = None, offsite: bool | None = None
    ) -> dict[str, Any]:
        """Make one backup now; the result (also kept as `last`). Conflict if one is running."""
        hub = self.hub
        assert hub is not None, "start() first"
        if self._lock.locked():
            job = self.job
            raise Conflict(
                f"a backup is already running ({job.phase if job else 'starting'}); "
                "wait for it (GET /api/v1/backups/status)"
            )
        async with self._lock:
            started = time.monotonic()
            now = hub.clock.now()
            job = self.job = Job(new_backup_id(now), reason, now)
            self._publish("running", f"{reason} backup started", force=True)
            try:
                result = await self._run(job, dest_file, offsite)
            except Exception as err:
                if isinstance(err, HubError):
                    message = err.message
                elif isinstance(err, OSError):
                    message = (
                        f"could not write the backup: {err.strerror or err} "
                        f"({err.filename or self.folder}); check [backup] dir, its permissions "
                        "and the free space"
                    )
                else:
                    message = f"{type(err).__name__}: {err}"
                _LOG.error("backup %s failed (%s): %s", job.id, reason, message)
                self.last = {
                    "state": "failed",
                    "id": job.id,
                    "reason": reason,
                    "finished": hub.clock.now(),
                    "message": message,
                }
                await self._remember()
                self._publish("failed", message, force=True)
                self.job = None
                raise
            result["duration_s"] = round(time.monotonic() - started, 3)
            self.last = result
            await self._remember()
            offsite_state = result["offsite"].get("state", "off")
            _LOG.info(
                "backup %s done: %.1f MB in %.1f s (%s); off-site: %s",
                job.id,
                result["size_bytes"] / 1e6,
                result["duration_s"],
                ", ".join(f"{v} {k}" for k, v in result["contents"].items()),
                offsite_state,
            )
            job.phase, job.progress = "done", 1.0
            self._publish("succeeded", f"backup {job.id} done", force=True)
            self.job = None
            return result

    async def _run(self, job: Job, dest_file: Path | None, offsite: bool | None) -> dict[str, Any]:
        hub = self.hub
        assert hub is not None
        loop = asyncio.get_running_loop()

        def progress(phase: str, fraction: float) -> None:  # from the worker thread
            loop.call_soon_threadsafe(self._advance, phase, fraction)

        await hub.registry.flush()  # shadows are written lazily: take the newest
        await hub.history.flush()
        relay_hub_id = getattr(getattr(self.offsite, "client", None), "relay_hub_id", None)
        source = BackupSource(
            data_dir=self.config.data_dir,
            config_file=self.config.config_file,
            integrations=self.config.integrations,
            hub_name=self.config.name,
            software_version=__version__,
        )
        path, manifest = await asyncio.to_thread(
            make_archive,
            source,
            self.folder,
            reason=job.reason,
            relay_hub_id=relay_hub_id,
            now=job.started,
            progress=progress,
            dest_file=dest_file,
            backup_id=job.id,
        )
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        result = self._result(manifest, path, size)
        if job.reason == "scheduled":
            deleted = await asyncio.to_thread(prune, self.folder, self.config.backup_keep)
            if deleted:
                _LOG.info("backup: removed old scheduled backups %s", ", ".join(deleted))
        want_offsite = self.config.backup_offsite if offsite is None else offsite
        result["offsite"] = await self._offsite(path, manifest, want_offsite)
        return result

    def _result(self, manifest: Manifest, path: Path, size: int) -> dict[str, Any]:
        return {
            "state": "succeeded",
            "id": manifest.id,
            "reason": manifest.reason,
            "file": str(path),
            "size_bytes": size,
            "finished": manifest.created,
            "contents": dict(manifest.contents),
            "message": "",
        }

    async def _remember(self) -> None:
        assert self.hub is not None
        with contextlib.suppress(Exception):  # status is a convenience; never fail a backup
            await self.hub.db.set_kv(LAST_KV, json.dumps(self.last))

    async def _offsite(self, path: Path, manifest: Manifest, wanted: bool) -> dict[str, Any]:
        """Encrypt and upload, when asked and possible; what happened, for status."""
        assert self.hub is not None
        if not wanted:
            return {"state": "off"}
        key = await load_public_key(self.hub.db)
        if key is None:
            return {"state": "skipped", "message": "no recovery key set up (homehub backup key)"}
        if self.offsite is None:
            return {"state": "skipped", "message": "no relay configured ([relay] url)"}
        sealed = path.with_name(path.name + SEALED_SUFFIX + ".upload")
        try:
            self._advance("encrypt", 0.0)
            await asyncio.to_thread(seal, path, sealed, key)
            self._advance("encrypt", 1.0)
            loop = asyncio.get_running_loop()

            def progress(fraction: float) -> None:
                loop.call_soon_threadsafe(self._advance, "upload", fraction)

            answer = await self.offsite.upload_backup(
                sealed, manifest.id, key.vault_id, self.config.backup_keep, progress
            )
            return {"state": "uploaded", **answer}
        except HubError as err:
            _LOG.warning("backup %s kept locally; off-site copy failed: %s", manifest.id, err)
            return {"state": "failed", "message": err.message}
        finally:
            await asyncio.to_thread(sealed.unlink, True)

    # ------------------------------------------------------------------ status, restore
    def status(self) -> dict[str, Any]:
        """What the TUI and phones show."""
        job = self.job
        return {
            "state": "running" if job is not None else "idle",
            "running": (
                {
                    "id": job.id,
                    "reason": job.reason,
                    "phase": job.phase,
                    "progress": round(job.progress, 3),
                    "started": job.started,
                }
                if job is not None
                else None
            ),
            "last": self.last,
            "next_due": self.next_due if self.config.backup_interval_h > 0 else None,
            "interval_hours": self.config.backup_interval_h,
            "keep": self.config.backup_keep,
            "folder": str(self.folder),
            "offsite_enabled": self.config.backup_offsite and self.offsite is not None,
        }

    async def list(self) -> list[dict[str, Any]]:
        """Archives in the backups folder, newest first."""
        return [b.to_dict() for b in await asyncio.to_thread(list_local, self.folder)]

    async def stage_restore(self, backup_id: str, key: RecoveryKey | None = None) -> Manifest:
        """Check a local archive and stage it; the hub swaps it in when it restarts."""
        assert self.hub is not None
        backup = await asyncio.to_thread(find_local, self.folder, backup_id)
        _LOG.info("restore of backup %s: checking", backup_id)
        manifest = await asyncio.to_thread(
            stage_restore, backup.path, self.config.data_dir, key=key
        )
        _LOG.info(
            "restore of backup %s: checked and staged; the hub restarts to apply it", backup_id
        )
        return manifest

    async def public_key(self) -> PublicRecoveryKey | None:
        """The recovery key's public half (None until `homehub backup key`)."""
        assert self.hub is not None
        return await load_public_key(self.hub.db)


def backup_component(config: HubConfig) -> BackupService:
    """The factory `default_components` calls: every hub makes backups."""
    return BackupService(config)
