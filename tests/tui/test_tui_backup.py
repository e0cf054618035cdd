"""The TUI says how the hub's backups are doing (key b), starts one, and shows its result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_testkit import home_devices, wait_for

from hub.backup import BackupService
from hub.config import HubConfig
from hub.testing import running_hub
from integrations.virtual import VirtualIntegration
from tui import HubClient
from tui.app import HomehubApp, backup_summary


class NotingApp(HomehubApp):
    """The app, remembering the notifications it showed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append(message)
        super().notify(message, **kwargs)


async def test_backup_status_and_a_backup_from_the_tui(tmp_path: Path) -> None:
    service = BackupService(HubConfig(data_dir=tmp_path / "hub"))
    async with running_hub(
        tmp_path / "hub", [VirtualIntegration(home_devices())], components=[service]
    ) as rh:
        app = NotingApp(HubClient(rh.url, rh.token))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(lambda: app.loaded, "the device list")
            await pilot.press("b")
            note = await wait_for(
                lambda: next((n for n in app.notes if "No backup yet" in n), None),
                "the backup status",
            )
            assert "Next in 15 min" in note
            app._backup_now()
            await wait_for(lambda: "backup done" in app.notes, "the backup's result")
            app.notes.clear()
            await pilot.press("b")
            note = await wait_for(
                lambda: next((n for n in app.notes if "Last backup" in n), None), "the new status"
            )
            assert "ago" in note and "MB" in note


def test_the_summary_reads_well() -> None:
    now = 1_700_000_000.0
    failed = {
        "last": {"state": "failed", "finished": now - 7200, "message": "disk full"},
        "next_due": now + 3600,
        "running": None,
    }
    assert backup_summary(failed, now) == ("Last backup FAILED 2 h ago: disk full. Next in 60 min.")
    running = {"running": {"phase": "archive", "progress": 0.42}, "last": None, "next_due": None}
    assert backup_summary(running, now) == (
        "Backing up now: archive 42% No backup yet. "
        "No scheduled backups ([backup] interval_hours = 0)."
    )
