"""How a widget looks on screen in a 16-colour, 256-colour or true-colour terminal.

A terminal with fewer colours shows each true colour as the nearest one it has (Rich's
downgrade, which Textual's output uses too), so two greys that differ on a true-colour terminal
(#1e1e1e, #272727) become the same black on a 16-colour one. `looks` gives, cell by cell, what
the terminal would show: character, foreground and background as RGB after the downgrade (with
reverse video already applied), bold and underline.
"""

from __future__ import annotations

import io
from typing import Any

from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.terminal_theme import DEFAULT_TERMINAL_THEME
from textual.app import App
from textual.widget import Widget

SYSTEMS = {
    "16": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
}
Cell = tuple[str, tuple[int, int, int], tuple[int, int, int], bool, bool]

# Far enough apart to tell at a glance (#1e1e1e -> #272727, the old focus change, is 15.6).
MIN_DISTANCE = 60.0


def downgraded(style: Style, system: ColorSystem) -> Style:
    """The style with its colours as a terminal with `system` shows them."""
    color = style.color.downgrade(system) if style.color is not None else None
    bgcolor = style.bgcolor.downgrade(system) if style.bgcolor is not None else None
    return style + Style(color=color, bgcolor=bgcolor)


def _rgb(color: Any, foreground: bool) -> tuple[int, int, int]:
    if color is None:
        default = (
            DEFAULT_TERMINAL_THEME.foreground_color
            if foreground
            else (DEFAULT_TERMINAL_THEME.background_color)
        )
        return (default.red, default.green, default.blue)
    tc = color.get_truecolor(DEFAULT_TERMINAL_THEME, foreground)
    return (tc.red, tc.green, tc.blue)


def looks(app: App[Any], widget: Widget, system: ColorSystem) -> list[Cell]:
    """Every cell of the widget's region as the terminal shows it."""
    strips = app.screen._compositor.render_strips()
    region = widget.region
    cells: list[Cell] = []
    for y, strip in enumerate(strips):
        if not region.y <= y < region.bottom:
            continue
        for seg in strip.crop(region.x, region.right):
            style = downgraded(seg.style or Style(), system)
            fg, bg = _rgb(style.color, True), _rgb(style.bgcolor, False)
            if style.reverse:
                fg, bg = bg, fg
            for ch in seg.text:
                cells.append((ch, fg, bg, bool(style.bold), bool(style.underline)))
    return cells


def _distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def visible_difference(focused: list[Cell], unfocused: list[Cell]) -> bool:
    """Some cell changes clearly: bold/underline, or a colour far from the one before."""
    for f, u in zip(focused, unfocused, strict=False):
        if f[3] != u[3] or f[4] != u[4]:
            return True
        if _distance(f[1], u[1]) >= MIN_DISTANCE or _distance(f[2], u[2]) >= MIN_DISTANCE:
            return True
    return False


def export_downgraded(app: App[Any], system: ColorSystem) -> str:
    """An SVG of the screen as a terminal with `system` colours shows it."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    # (a modal's background screens are left out: these snapshots have none)
    console.print(_Downgraded(app.screen._compositor.render_strips(), system), end="")
    return console.export_svg(title=app.title)


class _Downgraded:
    """Screen lines with their colours downgraded, as a Rich renderable."""

    def __init__(self, strips: Any, system: ColorSystem) -> None:
        self.strips = strips
        self.system = system

    def __rich_console__(self, console: Console, options: Any) -> Any:
        new_line = Segment.line()
        for strip in self.strips:
            for seg in strip:
                yield Segment(seg.text, downgraded(seg.style or Style(), self.system))
            yield new_line
