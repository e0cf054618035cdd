"""A rule without ids: pick the trigger, the condition and the action from lists of devices by
name; the YAML and the rule in words follow every change. Ctrl+Y continues in the YAML editor."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea

from tui.errors import ApiError, TuiError
from tui.models import Device, PropertyInfo
from tui.rule_words import explain_rule
from tui.screens.base import HubScreen
from tui.screens.rules import NEW_RULE, RuleEditScreen, problems_of, rule_to_yaml

# What each part can say about a property, by its type: (label, op).
TRIGGER_OPS = {
    "choice": [("becomes", "to"), ("changes", "any")],
    "number": [("goes above", "above"), ("goes below", "below"), ("changes", "any")],
}
CONDITION_OPS = {
    "choice": [("is", "is")],
    "number": [("is above", "above"), ("is below", "below"), ("is", "is")],
}
ACTION_OPS = {"choice": [("set to", "set")], "number": [("set to", "set")]}


class RuleFormError(ValueError):
    """A part of the form is missing or wrong; the text says which and what to do."""


def kind_of(prop: PropertyInfo) -> str:
    """'number' for int/float, 'choice' for the rest (bool, enum, string)."""
    return "number" if prop.type in ("int", "float") else "choice"


def choices_of(prop: PropertyInfo) -> list[tuple[str, Any]] | None:
    """The values a property can take, as (label, value), or None to type one."""
    if prop.type == "bool":
        return [(prop.format(True), True), (prop.format(False), False)]
    if prop.choices:
        return [(c, c) for c in prop.choices]
    return None


def parse_number(text: str, prop: PropertyInfo, what: str) -> float | int:
    """A typed number, checked against the property's range."""
    try:
        number = float(text.strip().replace(",", "."))
    except ValueError:
        raise RuleFormError(f"{what}: type a number (e.g. 21.5)") from None
    if (
        (prop.minimum is not None
        and number < prop.minimum)
        or (prop.maximum is not None and number > prop.maximum)
    ):
        raise RuleFormError(f"{what}: {prop.name} goes from {prop.minimum:g} to {prop.maximum:g}")
    return int(number) if prop.type == "int" and number.is_integer() else number


def rule_id_from(name: str) -> str:
    """'Lamp on at dusk!' -> 'lamp_on_at_dusk'."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug[:60] or "rule"


class PropertyPicker(Horizontal):
    """device ▸ property ▸ how ▸ value, each from a list (a number is typed)."""

    DEFAULT_CSS = """
    PropertyPicker { height: 1; width: 1fr; }
    PropertyPicker Select { width: 1fr; }
    PropertyPicker .pp-device { width: 2fr; }
    PropertyPicker Input { width: 1fr; }
    """

    def __init__(
        self,
        devices: list[Device],
        ops: dict[str, list[tuple[str, str]]],
        *,
        writable_only: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.devices = {d.id: d for d in devices if self._props(d, writable_only)}
        self.ops = ops
        self.writable_only = writable_only

    @staticmethod
    def _props(device: Device, writable_only: bool) -> list[PropertyInfo]:
        return [
            p
            for p in device.properties.values()
            if p.type != "list" and (p.writable or not writable_only)
        ]

    def compose(self) -> ComposeResult:
        devices = sorted(self.devices.values(), key=lambda d: d.name.lower())
        yield Select(
            [(d.name, d.id) for d in devices], prompt="device", compact=True, classes="pp-device"
        )
        yield Select([], prompt="property", compact=True, classes="pp-prop")
        yield Select(self.ops["choice"], compact=True, classes="pp-op", allow_blank=False)
        yield Select([], prompt="value", compact=True, classes="pp-choice")
        yield Input(placeholder="a number", compact=True, classes="pp-number")

    def on_mount(self) -> None:
        """Nothing chosen yet: only the device list is shown."""
        self._show_value(None)
        for cls in (".pp-prop", ".pp-op"):
            self.query_one(cls).display = False

    @property
    def device(self) -> Device | None:
        """The chosen device."""
        value = self.query_one(".pp-device", Select).value
        return self.devices.get(value) if isinstance(value, str) else None

    @property
    def prop(self) -> PropertyInfo | None:
        """The chosen property."""
        device = self.device
        value = self.query_one(".pp-prop", Select).value
        if device is None or not isinstance(value, str):
            return None
        return device.properties.get(value)

    @on(Select.Changed, ".pp-device")
    def _device_chosen(self, event: Select.Changed) -> None:
        event.stop()
        device = self.device
        props = self.query_one(".pp-prop", Select)
        if device is None:
            props.display = False
            return
        options = [
            (p.name.replace("_", " "), p.name) for p in self._props(device, self.writable_only)
        ]
        props.set_options(options)
        props.display = True
        if len(options) == 1:
            props.value = options[0][1]
        self.post_message(Select.Changed(props, props.value))

    @on(Select.Changed, ".pp-prop")
    def _prop_chosen(self, event: Select.Changed) -> None:
        prop = self.prop
        op = self.query_one(".pp-op", Select)
        if prop is None:
            op.display = False
            self._show_value(None)
            return
        event.stop()
        ops = self.ops[kind_of(prop)]
        op.set_options(ops)
        op.display = len(ops) > 1 or ops[0][1] == "set"
        self._show_value(prop)
        self.post_message(Select.Changed(op, op.value))

    @on(Select.Changed, ".pp-op")
    def _op_chosen(self, event: Select.Changed) -> None:
        self._show_value(self.prop)

    def _show_value(self, prop: PropertyInfo | None) -> None:
        choice = self.query_one(".pp-choice", Select)
        number = self.query_one(".pp-number", Input)
        op = self.query_one(".pp-op", Select).value
        wants_value = prop is not None and op != "any"
        choices = choices_of(prop) if prop is not None else None
        choice.display = wants_value and choices is not None
        number.display = wants_value and choices is None
        if prop is not None and choices is not None:
            choice.set_options(choices)
        if prop is not None:
            number.placeholder = (
                f"a number in {prop.unit}" if prop.unit
                else "a number" if kind_of(prop) == "number" else "a value"
            )

    def part(self, what: str) -> tuple[str, str, str, Any]:
        """(device id, property, op, value) or RuleFormError saying what to choose."""
        device, prop = self.device, self.prop
        if device is None:
            raise RuleFormError(f"{what}: choose a device")
        if prop is None:
            raise RuleFormError(f"{what}: choose what of {device.name} (a property)")
        op = str(self.query_one(".pp-op", Select).value)
        if op == "any":
            return device.id, prop.name, op, None
        choices = choices_of(prop)
        if choices is not None:
            chooser = self.query_one(".pp-choice", Select)
            value = chooser.value
            if chooser.is_blank():
                raise RuleFormError(f"{what}: choose a value of {prop.name}")
            return device.id, prop.name, op, value
        text = self.query_one(".pp-number", Input).value
        if kind_of(prop) == "number":
            return device.id, prop.name, op, parse_number(text, prop, what)
        if not text.strip():
            raise RuleFormError(f"{what}: type a value for {prop.name}")
        return device.id, prop.name, op, text.strip()


class RuleFormScreen(HubScreen):
    """When ... only if ... then ...; saved through the hub like any rule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+y", "as_yaml", "As YAML"),
        Binding("escape", "back", "Back"),
    ]

    def compose_body(self) -> Iterable[Widget]:
        devices = list(self.hub_app.devices.values())
        yield Static("New rule — pick from the lists; Ctrl+S saves", classes="title")
        with Horizontal(classes="rf-row"):
            yield Label("Name")
            yield Input(
                placeholder="what it does, e.g. Hall light on motion", id="rf-name", compact=True
            )
        with Horizontal(classes="rf-row"):
            yield Label("When")
            yield PropertyPicker(devices, TRIGGER_OPS, id="rf-trigger")
        with Horizontal(classes="rf-row"):
            yield Label("Only if")
            yield Select(
                [
                    ("always", "none"),
                    ("a device value", "device"),
                    ("between times", "time"),
                    ("someone home", "someone_home"),
                    ("everyone away", "everyone_away"),
                ],
                value="none",
                allow_blank=False,
                compact=True,
                id="rf-cond-kind",
            )
            yield PropertyPicker(devices, CONDITION_OPS, id="rf-condition")
            yield Input(placeholder="after HH:MM", id="rf-after", compact=True)
            yield Input(placeholder="before HH:MM", id="rf-before", compact=True)
        with Horizontal(classes="rf-row"):
            yield Label("Then")
            yield Select(
                [("set a device", "set"), ("notify me", "notify")],
                value="set",
                allow_blank=False,
                compact=True,
                id="rf-act-kind",
            )
            yield PropertyPicker(devices, ACTION_OPS, writable_only=True, id="rf-action")
            yield Input(placeholder="the message to send", id="rf-message", compact=True)
        yield Static("", id="rf-words")
        yield TextArea("", id="rf-yaml", read_only=True, soft_wrap=False)
        yield Static("", id="rule-error")

    def on_mount(self) -> None:
        """Show the parts the initial choices need."""
        super().on_mount()
        self._show_parts()
        self.query_one("#rf-name", Input).focus()

    def _show_parts(self) -> None:
        cond = self.query_one("#rf-cond-kind", Select).value
        self.query_one("#rf-condition").display = cond == "device"
        self.query_one("#rf-after").display = cond == "time"
        self.query_one("#rf-before").display = cond == "time"
        act = self.query_one("#rf-act-kind", Select).value
        self.query_one("#rf-action").display = act == "set"
        self.query_one("#rf-message").display = act == "notify"

    @on(Select.Changed)
    @on(Input.Changed)
    def _changed(self, event: Any) -> None:
        self._show_parts()
        self.preview()

    def build(self) -> dict[str, Any]:
        """The rule document, or RuleFormError naming the first missing part."""
        name = self.query_one("#rf-name", Input).value.strip()
        device, prop, op, value = self.query_one("#rf-trigger", PropertyPicker).part("When")
        trigger: dict[str, Any] = {
            "type": "numeric" if op in ("above", "below") else "state",
            "device": device,
            "property": prop,
        }
        if op in ("above", "below"):
            trigger[op] = value
        elif op == "to":
            trigger["to"] = value
        doc: dict[str, Any] = {
            "id": rule_id_from(name),
            "name": name or "New rule",
            "triggers": [trigger],
        }
        cond = self.query_one("#rf-cond-kind", Select).value
        if cond == "device":
            device, prop, op, value = self.query_one("#rf-condition", PropertyPicker).part(
                "Only if"
            )
            kind = "numeric" if op in ("above", "below") else "state"
            doc["conditions"] = [{"type": kind, "device": device, "property": prop, op: value}]
        elif cond == "time":
            times = {
                k: self.query_one(f"#rf-{k}", Input).value.strip() for k in ("after", "before")
            }
            for key, text in times.items():
                if text and not re.fullmatch(r"\d{1,2}:\d{2}", text):
                    raise RuleFormError(f"Only if: {key} is a time like 22:30")
            if not any(times.values()):
                raise RuleFormError("Only if: give a time after, before, or both (HH:MM)")
            doc["conditions"] = [{"type": "time", **{k: v for k, v in times.items() if v}}]
        elif cond in ("someone_home", "everyone_away"):
            doc["conditions"] = [{"type": "presence", "state": cond}]
        if self.query_one("#rf-act-kind", Select).value == "notify":
            message = self.query_one("#rf-message", Input).value.strip()
            if not message:
                raise RuleFormError("Then: type the message to send")
            doc["actions"] = [{"type": "notify", "message": message}]
        else:
            device, prop, _, value = self.query_one("#rf-action", PropertyPicker).part("Then")
            doc["actions"] = [{"type": "set", "device": device, "values": {prop: value}}]
        return doc

    def preview(self) -> dict[str, Any] | None:
        """Update the YAML and the words; the rule, or None while a part is missing."""
        words = self.query_one("#rf-words", Static)
        yaml_view = self.query_one("#rf-yaml", TextArea)
        try:
            doc = self.build()
        except RuleFormError as err:
            words.update(f"Still to do — {err}")
            yaml_view.load_text("")
            return None
        words.update("\n".join(explain_rule(doc, self.hub_app.devices)))
        yaml_view.load_text(rule_to_yaml(doc))
        self.query_one("#rule-error", Static).update("")
        return doc

    def _error(self, text: str) -> None:
        self.query_one("#rule-error", Static).update(text)

    @work(exclusive=True, group="save-rule")
    async def action_save(self) -> None:
        """Ask the hub to store the rule; its refusals show here."""
        try:
            doc = self.build()
        except RuleFormError as err:
            self._error(str(err))
            return
        if not self.query_one("#rf-name", Input).value.strip():
            self._error("Name: say what the rule does")
            self.query_one("#rf-name", Input).focus()
            return
        try:
            saved = await self.client.create_rule(doc)
        except ApiError as err:
            self._error("\n".join(m for _, m in problems_of(err)))
            return
        except TuiError as err:
            self._error(str(err))
            return
        self.notify(f"saved rule {saved.get('name') or saved.get('id')}")
        self.dismiss(None)

    def action_as_yaml(self) -> None:
        """Continue in the YAML editor with what is filled in so far."""
        doc = self.preview()
        text = rule_to_yaml(doc) if doc is not None else NEW_RULE
        self.dismiss(None)
        self.app.push_screen(RuleEditScreen(None, text))

    def action_back(self) -> None:
        """Leave without saving."""
        self.dismiss(None)
