"""Small widgets shared by the screens: the connection bar and a brightness slider."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static


def cell(text: str) -> Text:
    """A table cell cut with an ellipsis when its column is too narrow (never markup: a device
    called '[kitchen]' shows as typed)."""
    return Text(text, no_wrap=True, overflow="ellipsis", end="")


class ConnectionBar(Static):
    """One line under the header: hidden while connected, loud while the hub is unreachable."""

    DEFAULT_CSS = """
    ConnectionBar { height: 1; width: 100%; display: none; padding: 0 1; }
    ConnectionBar.-problem { display: block; background: $error; color: $text; }
    ConnectionBar.-waiting { display: block; background: $warning; color: $text; }
    """

    def show_state(self, state: str, text: str) -> None:
        """ok | waiting | problem, with the message to show."""
        self.set_class(state == "problem", "-problem")
        self.set_class(state == "waiting", "-waiting")
        self.update(text)


class Slider(Widget, can_focus=True):
    """A horizontal 0-100-style slider: ←/→ move by `step`, Home/End jump, a click sets it."""

    DEFAULT_CSS = """
    Slider { height: 1; width: 1fr; min-width: 12; }
    Slider:focus { text-style: bold; background: $boost; }
    """
    BINDINGS = [
        Binding("left", "nudge(-1)", "Less", show=False),
        Binding("right", "nudge(1)", "More", show=False),
        Binding("home", "jump(0)", "Min", show=False),
        Binding("end", "jump(1)", "Max", show=False),
    ]

    value: reactive[float] = reactive(0.0)

    class Changed(Message):
        """The user moved the slider."""

        def __init__(self, slider: Slider, value: float) -> None:
            super().__init__()
            self.slider = slider
            self.value = value

        @property
        def control(self) -> Slider:
            """The slider that changed."""
            return self.slider

    def __init__(
        self,
        value: float,
        minimum: float = 0,
        maximum: float = 100,
        step: float = 10,
        *,
        unit: str = "",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.minimum = minimum
        self.maximum = maximum
        self.step = step
        self.unit = unit
        self.set_reactive(Slider.value, float(value))

    def render(self) -> str:
        label = f" {self.value:.0f}{' ' + self.unit if self.unit else ''}"
        width = max(4, self.size.width - len(label) - 2)
        span = (self.maximum - self.minimum) or 1
        filled = round(width * (self.value - self.minimum) / span)
        return "[" + "█" * filled + "░" * (width - filled) + "]" + label

    def _set_by_user(self, value: float) -> None:
        value = min(self.maximum, max(self.minimum, value))
        if value != self.value:
            self.value = value
            self.post_message(self.Changed(self, value))

    def action_nudge(self, direction: int) -> None:
        """Move one step."""
        self._set_by_user(self.value + direction * self.step)

    def action_jump(self, end: int) -> None:
        """Go to the minimum (0) or the maximum (1)."""
        self._set_by_user(self.maximum if end else self.minimum)

    def on_click(self, event: events.Click) -> None:
        """Set the value where the bar was clicked."""
        width = max(4, self.size.width - len(f" {self.value:.0f} {self.unit}") - 2)
        frac = (event.x - 1) / width
        raw = self.minimum + frac * (self.maximum - self.minimum)
        self._set_by_user(round(raw / self.step) * self.step if self.step else raw)
