"""The homehub console: a Textual app that takes its hub client in the constructor.

app = HomehubApp(HubClient(url, token))
app.run()
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal

from tui.client import HubClient, LinkState
from tui.config import TokenStore
from tui.errors import AuthRequired, HubUnreachable, NotSupported, TuiError
from tui.models import Device, FoundHub
from tui.screens.base import SCREEN_KEYS
from tui.screens.connect import HubPickerScreen, PairScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.discovery import DiscoveryScreen
from tui.screens.energy import EnergyScreen
from tui.screens.events import EventsScreen
from tui.screens.ir_learn import IrLearnScreen
from tui.screens.rules import RulesScreen
from tui.screens.scenes import ScenesScreen

EVENT_LOG_SIZE = 500
_DEVICE_EVENTS = ("state_changed", "availability", "desired_changed")
_LIST_EVENTS = ("device_added", "device_updated", "device_removed")
# Actions that need a chosen, paired hub; in the picker and the pairing dialog they are hidden.
_NEEDS_SESSION = frozenset({"switch_mode", "claim_code", "backup_status"})


class HomehubApp(App[int]):
    """Rooms and devices, live; rules, events, discovery, IR learning and energy."""

    TITLE = "homehub"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    MODES: ClassVar[dict[str, str | Any]] = {
        "dashboard": DashboardScreen,
        "rules": RulesScreen,
        "scenes": ScenesScreen,
        "events": EventsScreen,
        "discovery": DiscoveryScreen,
        "ir": IrLearnScreen,
        "energy": EnergyScreen,
    }
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "switch_mode('dashboard')", "Home"),
        # Work everywhere; shown in the dashboard's footer (see SCREEN_KEYS), so that the other
        # screens' footers have room for their own keys at 80 columns.
        *(
            Binding(key, f"switch_mode('{mode}')", label, show=False)
            for key, mode, label in SCREEN_KEYS
        ),
        Binding("c", "claim_code", "Claim code", show=False),
        Binding("b", "backup_status", "Backups", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        client: HubClient | None = None,
        *,
        store: TokenStore | None = None,
        client_name: str = "homehub tui",
        browse_interfaces: list[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.client = client
        self.store = store
        self.client_name = client_name
        self.browse_interfaces = browse_interfaces
        self.clock = clock
        self.devices: dict[str, Device] = {}
        self.hub_name = ""
        self.loaded = False
        self.event_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=EVENT_LOG_SIZE)
        self.link: tuple[str, str] = ("waiting", "connecting to the hub…")
        self.link_changed: Signal[tuple[str, str]] = Signal(self, "link_changed")
        self.home_changed: Signal[str | None] = Signal(self, "home_changed")
        self.event_seen: Signal[dict[str, Any]] = Signal(self, "event_seen")

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        """Pick a hub, pair, or connect straight away."""
        if self.client is None:
            self.push_screen(HubPickerScreen(self.browse_interfaces), self._hub_chosen)
        else:
            self.start_session()

    async def on_unmount(self) -> None:
        """Close the connection."""
        if self.client is not None:
            await self.client.close()

    def _hub_chosen(self, hub: FoundHub | None) -> None:
        if hub is None:
            self.exit(1)
            return
        token = self.store.token_for(hub.url, hub.hub_id) if self.store is not None else None
        self.client = HubClient(hub.url, token)
        self.start_session()

    def start_session(self) -> None:
        """Pair if there is no token, then follow the hub's events."""
        assert self.client is not None
        if not self.client.token:
            self.set_link("problem", "not paired with this hub yet — enter the pairing code")
            self.push_screen(PairScreen(self.client.url), self._paired)
            return
        self.set_link("waiting", f"connecting to {self.client.url}…")
        self._follow_events()

    def _paired(self, token: str | None) -> None:
        if token is None:
            self.exit(1)
            return
        self.start_session()

    def save_token(self, token: str, hub_id: str = "") -> None:
        """Remember the token of the current hub (after pairing)."""
        if self.store is not None and self.client is not None:
            self.store.save(self.client.url, token, hub_id)

    @property
    def has_session(self) -> bool:
        """A hub is chosen and paired: the hub screens can be used."""
        return self.client is not None and bool(self.client.token)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hub keys are hidden (and do nothing) until a hub is chosen and paired."""
        if action in _NEEDS_SESSION and not self.has_session:
            return False
        # Switching to the mode one is in does nothing: not shown (Home on the dashboard and
        # on a device screen, whose Esc goes back).
        return not (action == "switch_mode" and parameters[:1] == (self.current_mode,))

    def set_link(self, state: str, text: str) -> None:
        """Show the connection state on every screen."""
        self.link = (state, text)
        self.link_changed.publish(self.link)

    # ------------------------------------------------------------------ live data
    @work(exclusive=True, group="events")
    async def _follow_events(self) -> None:
        assert self.client is not None
        try:
            await self.client.watch_events(self._on_event, self._on_link)
        except AuthRequired:
            self.set_link("problem", "the hub refused the token — enter a new pairing code")
            self.client.token = None
            self.push_screen(PairScreen(self.client.url), self._paired)

    async def _on_link(self, state: LinkState, reason: str) -> None:
        if state is LinkState.CONNECTED:
            try:
                await self.reload()
            except HubUnreachable:
                return  # the events socket notices too and retries
            except TuiError as err:
                self.set_link("problem", f"the hub answered with an error: {err}")
                return
            self.set_link("ok", "")
        elif state is LinkState.RETRYING:
            self.set_link("problem", "hub unreachable — retrying…")
        elif state is LinkState.REFUSED:
            self.set_link("problem", f"{reason} — retrying…")

    async def reload(self) -> None:
        """Read every device again (after connecting, or after missed events)."""
        assert self.client is not None
        devices = await self.client.devices()
        if not self.hub_name:
            self.hub_name = str((await self.client.health()).get("name") or "")
            self.sub_title = self.hub_name
        self.devices = {d.id: d for d in devices}
        self.loaded = True
        self.home_changed.publish(None)

    async def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "hello":
            return
        if kind == "overflow":
            # events were dropped while we were slow: read everything again
            with contextlib.suppress(TuiError):
                await self.reload()
            return
        self.event_log.append(event)
        self.event_seen.publish(event)
        device_id = event.get("device")
        if kind == "command_result" and event.get("status") == "failed":
            self.notify(
                f"command failed: {event.get('reason') or 'no reason given'}", severity="error"
            )
        if kind == "notification":
            self.notify(str(event.get("message", "")), title=str(event.get("title") or ""))
        if kind == "backup" and event.get("state") in ("succeeded", "failed"):
            failed = event["state"] == "failed"
            self.notify(
                f"backup failed: {event.get('message')}" if failed else "backup done",
                title="Backups",
                severity="error" if failed else "information",
            )
        if not isinstance(device_id, str):
            return
        if kind in _DEVICE_EVENTS and device_id in self.devices:
            self.devices[device_id] = self.devices[device_id].with_event(event)
            self.home_changed.publish(device_id)
        elif kind in _LIST_EVENTS:
            await self._refresh_device(device_id, removed=kind == "device_removed")

    async def _refresh_device(self, device_id: str, removed: bool) -> None:
        assert self.client is not None
        if removed:
            self.devices.pop(device_id, None)
        else:
            try:
                self.devices[device_id] = await self.client.device(device_id)
            except TuiError:
                return
        self.home_changed.publish(None)

    async def set_values(self, device_id: str, values: dict[str, Any]) -> str | None:
        """Ask the hub for new values; problems become notifications. Returns the command id."""
        assert self.client is not None
        try:
            return await self.client.set_desired(device_id, values)
        except HubUnreachable:
            self.notify("hub unreachable — try again when it is back", severity="error")
        except TuiError as err:
            self.notify(str(err), severity="error")
        return None

    async def run_command(self, device_id: str, command: str) -> str | None:
        """Press a named (IR) button; problems become notifications."""
        assert self.client is not None
        try:
            return await self.client.run_command(device_id, command)
        except TuiError as err:
            self.notify(str(err), severity="error")
        return None

    # ------------------------------------------------------------------ palette
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every screen besides the built-in commands."""
        yield from super().get_system_commands(screen)
        if not self.has_session:
            return
        for mode, title, help_text in (
            ("dashboard", "Home", "Rooms and devices, live"),
            ("rules", "Rules", "Enable, disable, edit rules and see their traces"),
            ("scenes", "Scenes", "Run, make and delete scenes (several devices at once)"),
            ("events", "Events log", "Everything the hub reports, as it happens"),
            ("discovery", "New devices", "Adopt devices the hub found on the network"),
            ("ir", "Learn an IR code", "Teach a blaster a remote's button"),
            ("energy", "Energy", "Power and energy history of meters and solar"),
        ):
            yield SystemCommand(title, help_text, self._switcher(mode))
        # Devices by name (the palette matches titles), then rooms.
        for device in sorted(self.devices.values(), key=lambda d: d.name.lower()):
            where = device.room or "no room"
            yield SystemCommand(
                device.name, f"Open this device ({where})", self._device_opener(device.id)
            )
        for room in sorted({d.room for d in self.devices.values() if d.room}):
            yield SystemCommand(f"Room: {room}", f"Only {room}'s devices", self._room_shower(room))
        if self.client is not None:
            yield SystemCommand("Reload", "Read every device from the hub again", self._reload)
            yield SystemCommand(
                "Relay claim code",
                "A one-time code to add this hub to your account in the phone app (key c)",
                self.action_claim_code,
            )
            yield SystemCommand(
                "Backup status",
                "The last backup, the next one, one running now (key b)",
                self.action_backup_status,
            )
            yield SystemCommand("Back up now", "Make a backup of the hub now", self._backup_now)

    @work(group="claim-code", exclusive=True)
    async def action_claim_code(self) -> None:
        """Show a relay claim code, or why there is none."""
        if self.client is None:
            return
        try:
            claim = await self.client.relay_claim_code()
        except NotSupported:
            self.notify(
                "This hub is not linked to a relay: set [relay] url in its homehub.toml.",
                severity="warning",
                timeout=10,
                markup=False,  # "[relay]" is a TOML table, not a style tag
            )
            return
        except TuiError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        minutes = max(1, round(float(claim.get("expires_in", 600)) / 60))
        self.notify(
            f"Claim code [b]{claim['code']}[/b]: enter it in the phone app within {minutes} min.",
            title="Relay claim code",
            timeout=60,
        )

    @work(group="backup", exclusive=True)
    async def action_backup_status(self) -> None:
        """Say what the hub's backups are doing."""
        if self.client is None:
            return
        try:
            status = await self.client.backup_status()
        except NotSupported:
            self.notify("This hub does not make backups.", severity="warning")
            return
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.notify(backup_summary(status, self.clock()), title="Backups", timeout=20)

    @work(group="backup", exclusive=True)
    async def _backup_now(self) -> None:
        if self.client is None:
            return
        try:
            await self.client.backup_now()
        except TuiError as err:
            self.notify(str(err), severity="error")

    def _device_opener(self, device_id: str) -> Any:
        def open_device() -> None:
            from tui.screens.device import DeviceScreen

            self.switch_mode("dashboard")
            self.push_screen(DeviceScreen(device_id))

        return open_device

    def _room_shower(self, room: str) -> Any:
        def show_room() -> None:
            self.switch_mode("dashboard")
            while len(self.screen_stack) > 1 and not isinstance(self.screen, DashboardScreen):
                self.pop_screen()  # a device page opened from the dashboard
            dashboard = self.screen
            if isinstance(dashboard, DashboardScreen):
                dashboard.show_room(room)

        return show_room

    def _switcher(self, mode: str) -> Any:
        def switch() -> None:
            self.switch_mode(mode)

        return switch

    @work(group="reload")
    async def _reload(self) -> None:
        try:
            await self.reload()
        except TuiError as err:
            self.notify(str(err), severity="error")


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def backup_summary(status: dict[str, Any], now: float) -> str:
    """One short paragraph about a hub's backups (GET /backups/status)."""
    lines = []
    running = status.get("running")
    if running:
        lines.append(f"Backing up now: {running['phase']} {running['progress'] * 100:.0f}%")
    last = status.get("last")
    if not last:
        lines.append("No backup yet.")
    elif last.get("state") == "failed":
        why = str(last["message"]).rstrip(".")
        lines.append(f"Last backup FAILED {_ago(now - last['finished'])} ago: {why}.")
    else:
        size = last.get("size_bytes", 0) / 1e6
        offsite = (last.get("offsite") or {}).get("state", "off")
        lines.append(
            f"Last backup {_ago(now - last['finished'])} ago, {size:.1f} MB (off-site: {offsite})."
        )
    due = status.get("next_due")
    if due:
        lines.append(f"Next in {_ago(max(0.0, due - now))}." if due > now else "Next: due now.")
    else:
        lines.append("No scheduled backups ([backup] interval_hours = 0).")
    return " ".join(lines)
