"""Small modal dialogs."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class NameRoomDialog(ModalScreen[tuple[str, str] | None]):
    """Ask for a device's name and room; dismisses with (name, room) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, name: str, room: str, rooms: list[str], ok: str) -> None:
        super().__init__()
        self.heading = title
        self.initial = (name, room)
        self.rooms = rooms
        self.ok_label = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="name-room"):
            yield Static(self.heading, classes="title")
            with Horizontal(classes="form-row"):
                yield Label("Name")
                yield Input(self.initial[0], id="dlg-name", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Room")
                yield Input(
                    self.initial[1],
                    placeholder="optional, e.g. " + (", ".join(self.rooms[:3]) or "Kitchen"),
                    id="dlg-room",
                    compact=True,
                )
            with Horizontal(classes="toolbar"):
                yield Button(self.ok_label, id="dlg-ok", variant="primary", compact=True)
                yield Button("Cancel", id="dlg-cancel", compact=True)

    @on(Button.Pressed, "#dlg-ok")
    @on(Input.Submitted)
    def _ok(self, event: Any) -> None:
        name = self.query_one("#dlg-name", Input).value.strip() or self.initial[0]
        self.dismiss((name, self.query_one("#dlg-room", Input).value.strip()))

    @on(Button.Pressed, "#dlg-cancel")
    def action_cancel(self) -> None:
        """Close without changes."""
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """Ask before something that cannot be undone; dismisses with True to go ahead."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "No"),
        Binding("y", "confirm", "Yes"),
    ]

    def __init__(self, question: str, ok: str) -> None:
        super().__init__()
        self.question = question
        self.ok_label = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question, classes="title")
            with Horizontal(classes="toolbar"):
                yield Button(f"{self.ok_label} (y)", id="confirm-ok", variant="error", compact=True)
                yield Button("Cancel (n)", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        """Start on Cancel: Enter alone must not destroy anything."""
        self.query_one("#confirm-cancel", Button).focus()

    @on(Button.Pressed, "#confirm-ok")
    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        """Do nothing."""
        self.dismiss(False)
