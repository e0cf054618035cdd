"""Rules: switch them on and off, see when they last fired and why, edit them as YAML."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import yaml
from textual import on, work
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import DataTable, Static, TextArea

from tui.errors import ApiError, NotSupported, TuiError
from tui.screens.base import HubScreen

NO_RULES_ENGINE = (
    "This hub has no rules engine yet (it does not serve /api/v1/rules). "
    "Update the hub to edit rules here."
)


def _when(ts: Any) -> str:
    if not isinstance(ts, int | float) or not ts:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def last_fired(rule: Mapping[str, Any]) -> Any:
    """The time a rule last ran, under whichever name the hub uses."""
    for key in ("last_fired", "last_fired_at", "last_run", "last_triggered"):
        if rule.get(key):
            return rule[key]
    return None


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


def yaml_problem(text: str) -> tuple[int | None, str] | None:
    """A YAML syntax error in `text` as (line, message), before asking the hub."""
    try:
        yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        return (mark.line + 1 if mark is not None else None, f"not valid YAML: {err.problem}")
    except yaml.YAMLError as err:
        return (None, f"not valid YAML: {err}")
    return None


class RuleEditScreen(HubScreen):
    """A rule as YAML; Ctrl+S saves, problems show at their line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, rule_id: str, text: str) -> None:
        super().__init__()
        self.rule_id = rule_id
        self.text = text

    def compose_body(self) -> Iterable[Widget]:
        yield Static(f"Rule {self.rule_id} — Ctrl+S saves, Esc goes back", classes="title")
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
        problem = yaml_problem(text)
        if problem is not None:
            self.show_problems([problem])
            return
        try:
            await self.client.save_rule_yaml(self.rule_id, text)
        except ApiError as err:
            self.show_problems(problems_of(err))
            return
        except TuiError as err:
            self.show_problems([(None, str(err))])
            return
        self.notify(f"saved rule {self.rule_id}")
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
            yaml.safe_dump(self.traces, sort_keys=False, allow_unicode=True)
            if self.traces
            else "This rule has not run yet."
        )
        yield TextArea(text, id="trace", read_only=True, soft_wrap=False)

    def action_back(self) -> None:
        """Back to the rules."""
        self.dismiss(None)


class RulesScreen(HubScreen):
    """Every rule with its state and when it last fired."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "switch", "On/off"),
        Binding("t", "trace", "Trace"),
        Binding("y", "edit", "Edit YAML"),
        Binding("f5", "refresh", "Refresh"),
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
        table.display = True
        self.rules = {str(r["id"]): r for r in rules}
        selected = self._selected()
        table.clear()
        for rule in sorted(rules, key=lambda r: str(r.get("name") or r["id"])):
            table.add_row(
                str(rule.get("name") or rule["id"]),
                "yes" if rule.get("enabled", True) else "no",
                _when(last_fired(rule)),
                key=str(rule["id"]),
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        message.update("" if rules else "No rules yet. Import some with the hub's CLI or API.")

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

    @on(DataTable.RowSelected, "#rules")
    async def action_edit(self) -> None:
        """Edit the highlighted rule as YAML."""
        rule_id = self._selected()
        if rule_id is None:
            return
        try:
            text = await self.client.rule_yaml(rule_id)
        except TuiError as err:
            self.notify(str(err), severity="error")
            return
        self.app.push_screen(RuleEditScreen(rule_id, text))
