"""Teach a blaster a remote's button: choose the blaster, press the button, save the code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from textual import on, work
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from tui.errors import NotSupported, TuiError
from tui.screens.base import HubScreen

NO_SUPPORT = "This hub has no IR blaster support yet."
POLL_S = 0.5


def describe_code(code: Any) -> str:
    """'an NEC code (address 0x04, command 0x08)' or 'a raw code 2600…' for the status line."""
    if isinstance(code, dict):
        if code.get("protocol"):
            extra = ", ".join(
                f"{k} {code[k]:#04x}"
                for k in ("address", "command")
                if isinstance(code.get(k), int)
            )
            return f"a {code['protocol']} code" + (f" ({extra})" if extra else "")
        code = code.get("broadlink_hex") or ""
    text = str(code or "")
    return f"a raw code {text[:16]}…" if len(text) > 16 else f"a raw code {text}"


class IrLearnScreen(HubScreen):
    """A three-step wizard: blaster and timeout, waiting for the button, name and save."""

    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="ir-learn"):
            yield Static("Learn an IR code", classes="title")
            with Horizontal(classes="form-row"):
                yield Label("Blaster")
                yield Select[str]([], id="blaster", prompt="choose a blaster", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Timeout (s)")
                yield Input("20", id="timeout", type="integer", compact=True)
            with Horizontal(classes="toolbar"):
                yield Button("Start learning", id="start", variant="primary", compact=True)
            yield Static("", id="ir-status", classes="message")
            yield ProgressBar(total=20, show_eta=False, id="ir-progress")
            with Vertical(id="ir-save"):
                with Horizontal(classes="form-row"):
                    yield Label("Device")
                    yield Select[str]([], id="target", prompt="device to add it to", compact=True)
                with Horizontal(classes="form-row"):
                    yield Label("Button name")
                    yield Input(placeholder="e.g. power_on", id="command", compact=True)
                with Horizontal(classes="toolbar"):
                    yield Button("Save", id="save", variant="success", compact=True)

    def on_mount(self) -> None:
        """Offer the hub's devices as blasters and targets."""
        super().on_mount()
        self.query_one("#ir-save").display = False
        self.query_one("#ir-progress").display = False
        self.hub_app.home_changed.subscribe(self, self._devices_changed)
        self._devices_changed(None)

    def _devices_changed(self, device_id: str | None) -> None:
        if device_id is not None:
            return
        devices = sorted(self.hub_app.devices.values(), key=lambda d: d.name)
        blasters = [
            d for d in devices
            if "ir_learn" in d.capabilities
            # hubs from before capabilities: Broadlink blasters are the ones without commands
            or (d.integration == "broadlink" and "ir_commands" not in d.properties)
        ] or devices
        self._set_options("#blaster", [(d.name, d.id) for d in blasters])
        if self.hub_app.loaded and not devices and self.session_id is None:
            self._status(
                "This hub has no IR blaster yet. Add a Broadlink, an ESPHome board with an IR "
                "receiver or a Nature Remo (press n for what the hub found), then learn here."
            )
        targets = [d for d in devices if "ir_commands" in d.properties] or devices
        self._set_options("#target", [(d.name, d.id) for d in targets])

    def _set_options(self, selector: str, options: list[tuple[str, str]]) -> None:
        select: Select[str] = self.query_one(selector, Select)
        current = select.value
        select.set_options(options)
        if any(value == current for _, value in options):
            select.value = current

    def _status(self, text: str) -> None:
        self.query_one("#ir-status", Static).update(text)

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        blaster = self.query_one("#blaster", Select).value
        if not isinstance(blaster, str):
            self._status("Choose the blaster first.")
            return
        try:
            timeout = max(1, min(120, int(self.query_one("#timeout", Input).value or "20")))
        except ValueError:
            timeout = 20
        self._learn(blaster, timeout)

    @work(exclusive=True, group="learn")
    async def _learn(self, blaster_id: str, timeout: int) -> None:
        self.query_one("#ir-save").display = False
        try:
            self.session_id = await self.client.ir_learn_start(blaster_id, timeout)
        except NotSupported:
            self._status(NO_SUPPORT)
            return
        except TuiError as err:
            self._status(f"could not start learning: {err}")
            return
        bar = self.query_one("#ir-progress", ProgressBar)
        bar.display = True
        bar.update(total=timeout, progress=0)
        self._status("Point the remote at the blaster and press the button…")
        while True:
            try:
                status = await self.client.ir_learn_status(self.session_id)
            except TuiError as err:
                self._status(f"lost the learning session: {err}")
                return
            if not self._show(status, bar):
                return
            await asyncio.sleep(POLL_S)  # the hub has no push for learning progress

    def _show(self, status: dict[str, Any], bar: ProgressBar) -> bool:
        """Show the session's state; False once it has ended."""
        state = status.get("state")
        elapsed = float(status.get("elapsed_s") or 0)
        remaining = float(status.get("remaining_s") or 0)
        bar.update(total=elapsed + remaining or 1, progress=elapsed)
        if state == "waiting":
            self._status(f"Waiting for the button… {remaining:.0f} s left")
            return True
        bar.display = False
        if state == "captured":
            self._status(
                f"Captured {describe_code(status.get('code'))}.\n"
                "Choose the device, name the button and save it."
            )
            self.query_one("#ir-save").display = True
            # The first thing still to do: the device when none is chosen, else the name.
            target = self.query_one("#target", Select)
            (self.query_one("#command", Input) if isinstance(target.value, str) else target).focus()
        elif state == "timeout":
            self._status("No button press arrived in time. Start again and press it nearer.")
        else:
            self._status(f"Learning failed: {status.get('reason') or state}. Start again.")
        return False

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#command")
    async def _save(self) -> None:
        target = self.query_one("#target", Select).value
        command = self.query_one("#command", Input).value.strip()
        if self.session_id is None or not isinstance(target, str) or not command:
            self._status("Choose the device and type a name for the button.")
            return
        try:
            await self.client.ir_learn_save(self.session_id, target, command)
        except TuiError as err:
            self._status(f"could not save: {err}")
            return
        name = self.hub_app.devices[target].name if target in self.hub_app.devices else target
        self._status(f"Saved {command!r} to {name}.")
        self.query_one("#ir-save").display = False
        self.session_id = None
