"""Rules: switch them on and off, see when they last fired and why, edit them as YAML."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import yaml
from textual import on, work
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static, TextArea

from tui.errors import ApiError, NotSupported, TuiError
from tui.rule_words import explain_dry_run
from tui.screens.base import HubScreen
from tui.screens.dialogs import ConfirmDialog

NO_RULES_ENGINE = (
    "This hub has no rules engine yet (it does not serve /api/v1/rules). "
    "Update the hub to edit rules here."
)


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float) or not ts:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def last_fired(traces: list[dict[str, Any]]) -> str:
    """When the rule last fired and how that run ended, from its newest trace."""
    if not traces:
        return "never"
    newest = traces[0]
    result = str(newest.get("result") or "").replace("_", " ")
    return f"{_when(newest.get('ts'))} {result}".strip()


#: Keys of a trace that hold an epoch time (the run, its end, a timer's due time, a wait).
_TIME_KEYS = frozenset({"ts", "finished", "due", "since", "until"})


def local_time(ts: float) -> str:
    """An epoch time as this machine's local date and time, to the tenth of a second."""
    tenths = int((ts % 1) * 10)  # cut, not rounded: .96 must not read as .0 of this second
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{tenths}"


def duration(seconds: float) -> str:
    """'0.12 s', '4.5 s', '3 min 20 s', '2 h 5 min'."""
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def _readable(value: Any, key: str = "") -> Any:
    if key in _TIME_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
        return local_time(float(value))
    if isinstance(value, Mapping):
        return {k: _readable(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def readable_trace(trace: Mapping[str, Any]) -> dict[str, Any]:
    """A trace as a person reads it: local times instead of epoch seconds, and how long the run
    took (or has been going) next to when it started."""
    out: dict[str, Any] = {}
    started = trace.get("ts")
    finished = trace.get("finished")
    for key, value in trace.items():
        out[key] = _readable(value, key)
        if key == "ts" and isinstance(started, int | float):
            if isinstance(finished, int | float):
                out["took"] = duration(max(0.0, finished - started))
            else:
                going = trace.get("result") in ("running", "queued")
                out["took"] = "still running" if going else "—"
    return out


#: What the hub adds to a rule it shows (not part of the rule; the hub ignores it on import).
_READ_ONLY = ("last_run",)


def rule_to_yaml(doc: Mapping[str, Any]) -> str:
    """One rule as an editable YAML list of one item (what /rules/import reads back)."""
    rule = {k: v for k, v in doc.items() if k not in _READ_ONLY}
    return yaml.safe_dump([rule], sort_keys=False, allow_unicode=True, default_flow_style=False)


NEW_RULE = """\
- id: my_rule
  name: Describe what it does
  triggers:
    - type: state
      device: device_id
      property: power
      to: true
  actions:
    - type: notify
      message: it happened
"""


def problems_of(err: ApiError) -> list[tuple[int | None, str]]:
    """(line, text) for each validation problem the hub reported."""
    found = []
    for p in err.details.get("errors") or ():
        if isinstance(p, Mapping):
            where = f"{p.get('field')}: " if p.get("field") else ""
            line = p.get("line")
            found.append(
                (int(line) if isinstance(line, int) else None, f"{where}{p.get('message', '')}")
            )
    return found or [(None, err.message)]


def yaml_problem(text: str, rule_id: str | None) -> tuple[int | None, str] | None:
    """A mistake the TUI can see itself, as (line, message), before asking the hub."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        return (mark.line + 1 if mark is not None else None, f"not valid YAML: {err.problem}")
    except yaml.YAMLError as err:
        return (None, f"not valid YAML: {err}")
    if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
        return (1, "write one rule, as a list with one item (start with `- id: ...`)")
    if rule_id is not None and str(data[0].get("id")) != rule_id:
        return (1, f"keep `id: {rule_id}` (to make a new rule, press a on the rules list)")
    if not data[0].get("id"):
        return (1, "give the rule an `id:`")
    return None


class RuleEditScreen(HubScreen):
    """A rule as YAML; Ctrl+S saves, problems show at their line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, rule_id: str | None, text: str) -> None:
        super().__init__()
        self.rule_id = rule_id
        self.text = text

    def compose_body(self) -> Iterable[Widget]:
        what = f"Rule {self.rule_id}" if self.rule_id else "New rule"
        yield Static(f"{what} — Ctrl+S saves, Esc goes back", classes="title")
        yield TextArea(
            self.text, id="editor", show_line_numbers=True, soft_wrap=False, tab_behavior="indent"
        )
        yield Static("", id="rule-error")

    def show_problems(self, problems: list[tuple[int | None, str]]) -> None:
        """List the problems and put the cursor on the first one's line."""
        lines = [f"line {ln}: {msg}" if ln else msg for ln, msg in problems]
        self.query_one("#rule-error", Static).update("\n".join(lines))
        first = next((ln for ln, _ in problems if ln), None)
        if first is not None:
            editor = self.query_one(TextArea)
            editor.move_cursor((first - 1, 0))
            editor.select_line(first - 1)
            editor.focus()

    @work(exclusive=True, group="save-rule")
    async def action_save(self) -> None:
        """Check the YAML here, then let the hub validate and store it."""
        text = self.query_one(TextArea).text
        problem = yaml_problem(text, self.rule_id)
        if problem is not None:
            self.show_problems([problem])
            return
        try:
            saved = await self.client.import_rules_yaml(text)
        except ApiError as err:
            self.show_problems(problems_of(err))
            return
        except TuiError as err:
            self.show_problems([(None, str(err))])
            return
        self.notify(f"saved rule {', '.join(saved)}")
        self.dismiss(None)

    def action_back(self) -> None:
        """Leave without saving."""
        self.dismiss(None)


class TraceScreen(HubScreen):
    """A rule's recent runs: what triggered, which condition failed, what each action did."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, rule_id: str, traces: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rule_id = rule_id
        self.traces = traces

    def compose_body(self) -> Iterable[Widget]:
        yield Static(f"Runs of {self.rule_id} (newest first)", classes="title")
        text = (
            yaml.safe_dump(
                [readable_trace(t) for t in self.traces], sort_keys=False, allow_unicode=True
            )
            if self.traces
            else "This rule has not run yet."
        )
        yield TextArea(text, id="trace", read_only=True, soft_wrap=False)

    def action_back(self) -> None:
        """Back to the rules."""
        self.dismiss(None)


class TextScreen(HubScreen):
    """A read-only page of text (a dry run in words); Esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.heading = title
        self.lines = lines

    def compose_body(self) -> Iterable[Widget]:
        yield Static(self.heading, classes="title")
        yield TextArea("\n".join(self.lines), id="text", read_only=True, soft_wrap=True)

    def action_back(self) -> None:
        """Back to the rules."""
        self.dismiss(None)


class RulesScreen(HubScreen):
    """Every rule with its state and when it last fired."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "switch", "On/off"),
        Binding("y", "edit", "Edit"),
        Binding("t", "trace", "Trace"),
        Binding("w", "would", "Dry run"),
        Binding("a", "new", "New"),
        Binding("d", "delete", "Delete"),
        Binding("f5", "refresh", "Refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rules: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> Iterable[Widget]:
        table: DataTable[str] = DataTable(id="rules", cursor_type="row")
        yield table
        yield Static("", id="rules-message", classes="message")

    def on_mount(self) -> None:
        """List the rules."""
        super().on_mount()
        table: DataTable[str] = self.query_one("#rules", DataTable)
        table.add_column("Rule", key="name", width=36)
        table.add_column("On", key="enabled", width=4)
        table.add_column("Last fired", key="last")
        self.action_refresh()

    def on_screen_resume(self) -> None:
        """Refresh when coming back from the editor."""
        self.action_refresh()

    @work(exclusive=True, group="rules")
    async def action_refresh(self) -> None:
        """Read the rules again."""
        message = self.query_one("#rules-message", Static)
        table: DataTable[str] = self.query_one("#rules", DataTable)
        try:
            rules = await self.client.rules()
        except NotSupported:
            table.display = False
            message.update(NO_RULES_ENGINE)
            return
        except TuiError as err:
            message.update(str(err))
            return
        try:
            traces = await asyncio.gather(*(self.client.rule_traces(str(r["id"])) for r in rules))
        except TuiError as err:
            message.update(str(err))
            return
        table.display = True
        self.rules = {str(r["id"]): r for r in rules}
        fired = {str(r["id"]): last_fired(t) for r, t in zip(rules, traces, strict=True)}
        selected = self._selected()
        table.clear()
        for rule in sorted(rules, key=lambda r: str(r.get("name") or r["id"])):
            table.add_row(
                str(rule.get("name") or rule["id"]),
                "yes" if rule.get("enabled", True) else "no",
                fired[str(rule["id"])],
                key=str(rule["id"]),
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        message.update("" if rules else "No rules yet. Press a to write one.")

    def _selected(self) -> str | None:
        table: DataTable[str] = self.query_one("#rules", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    async def action_switch(self) -> None:
        """Enable or disable the highlighted rule."""
        rule_id = self._selected()
        if rule_id is None:
            return
        enabled = bool(self.rules[rule_id].get("enabled", True))
        try:
            await self.client.set_rule_enabled(rule_id, not enabled)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.action_refresh()

    async def action_trace(self) -> None:
        """Show the highlighted rule's runs."""
        rule_id = self._selected()
        if rule_id is None:
            return
        try:
            traces = await self.client.rule_traces(rule_id)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.app.push_screen(TraceScreen(rule_id, traces))

    async def action_would(self) -> None:
        """Ask the hub whether the highlighted rule would fire now, and why not."""
        rule_id = self._selected()
        if rule_id is None:
            return
        try:
            result = await self.client.rule_dry_run(rule_id)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        name = str(self.rules.get(rule_id, {}).get("name") or rule_id)
        lines = explain_dry_run(result, self.hub_app.devices)
        self.app.push_screen(TextScreen(f"Dry run of {name}: nothing is run", lines))

    @on(DataTable.RowSelected, "#rules")
    async def action_edit(self) -> None:
        """Edit the highlighted rule as YAML."""
        rule_id = self._selected()
        if rule_id is None:
            return
        try:
            doc = await self.client.rule(rule_id)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.app.push_screen(RuleEditScreen(rule_id, rule_to_yaml(doc)))

    def action_new(self) -> None:
        """Make a new rule by picking from lists (Ctrl+Y there goes on in YAML)."""
        from tui.screens.rule_form import RuleFormScreen

        if self.query_one("#rules", DataTable).display:
            self.app.push_screen(RuleFormScreen())

    def action_delete(self) -> None:
        """Delete the highlighted rule (with its timers and traces), after asking."""
        rule_id = self._selected()
        if rule_id is None:
            return
        name = str(self.rules.get(rule_id, {}).get("name") or rule_id)

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(rule_id, name)

        self.app.push_screen(
            ConfirmDialog(f"Delete the rule {name!r}? Its traces go too.", "Delete"), answered
        )

    @work(group="rule-delete")
    async def _delete(self, rule_id: str, name: str) -> None:
        try:
            await self.client.delete_rule(rule_id)
        except TuiError as err:
            self.notify(f"could not delete {name}: {err}", severity="error")
            return
        self.notify(f"deleted rule {name}")
        self.action_refresh()
