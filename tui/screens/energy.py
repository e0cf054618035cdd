"""Power and energy history of meters, solar inverters and batteries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Select, Static
from textual_plotext import PlotextPlot

from tui.errors import TuiError
from tui.models import ENERGY_PROPERTIES
from tui.screens.base import HubScreen

#: (label, seconds) of the ranges offered; resolution keeps each to about 120 points.
RANGES: tuple[tuple[str, int], ...] = (
    ("1 hour", 3600),
    ("24 hours", 86400),
    ("7 days", 7 * 86400),
    ("30 days", 30 * 86400),
)
POINTS = 120


def resolution_for(span_s: int) -> int:
    """Seconds per plotted point for a range."""
    return max(1, span_s // POINTS)


class EnergyScreen(HubScreen):
    """A device, a property and a range; the plot follows the choice."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "range(0)", "1h"),
        Binding("2", "range(1)", "24h"),
        Binding("3", "range(2)", "7d"),
        Binding("4", "range(3)", "30d"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.range_index = 1
        self.plot_title = ""

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="toolbar"):
            yield Select[str]([], id="energy-device", prompt="meter or solar", compact=True)
            yield Select[str]([], id="energy-property", prompt="property", compact=True)
            yield Select[int](
                [(label, i) for i, (label, _) in enumerate(RANGES)],
                value=self.range_index,
                allow_blank=False,
                id="energy-range",
                compact=True,
            )
        yield Static("", id="energy-message", classes="muted")
        yield PlotextPlot(id="plot")

    def on_mount(self) -> None:
        """Offer the energy devices."""
        super().on_mount()
        self.hub_app.home_changed.subscribe(self, self._devices_changed)
        self._devices_changed(None)

    def _devices_changed(self, device_id: str | None) -> None:
        if device_id is not None:
            return
        devices = sorted(
            (d for d in self.hub_app.devices.values() if d.is_energy), key=lambda d: d.name
        )
        select: Select[str] = self.query_one("#energy-device", Select)
        current = select.value
        select.set_options([(d.name, d.id) for d in devices])
        if devices:
            ids = [d.id for d in devices]
            select.value = current if current in ids else ids[0]
            self.query_one("#energy-message", Static).update("")
        else:
            self.query_one("#energy-message", Static).update(
                "No meter, solar inverter or battery on this hub yet."
            )

    @on(Select.Changed, "#energy-device")
    def _device_chosen(self, event: Select.Changed) -> None:
        device = self.hub_app.devices.get(str(event.value))
        props = [p for p in ENERGY_PROPERTIES if device is not None and p in device.properties]
        select: Select[str] = self.query_one("#energy-property", Select)
        select.set_options([(p, p) for p in props])
        if props:
            select.value = props[0]

    @on(Select.Changed, "#energy-property")
    def _property_chosen(self) -> None:
        self.load()

    @on(Select.Changed, "#energy-range")
    def _range_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.range_index = event.value
            self.load()

    def action_range(self, index: int) -> None:
        """Choose a range by its number key."""
        self.query_one("#energy-range", Select).value = index

    @work(exclusive=True, group="history")
    async def load(self) -> None:
        """Fetch and plot the chosen history."""
        device_id = self.query_one("#energy-device", Select).value
        prop = self.query_one("#energy-property", Select).value
        if not isinstance(device_id, str) or not isinstance(prop, str):
            return
        label, span = RANGES[self.range_index]
        end = float(self.hub_app.clock())
        message = self.query_one("#energy-message", Static)
        try:
            points = await self.client.history(
                device_id, prop, end - span, end, resolution_for(span)
            )
        except TuiError as err:
            message.update(f"no history: {err}")
            return
        device = self.hub_app.devices.get(device_id)
        unit = device.properties[prop].unit if device and prop in device.properties else ""
        self.plot(points, prop, unit or "", label, end)
        message.update(
            f"{len(points)} points over the last {label}"
            if points
            else f"no samples in the last {label} yet"
        )

    def plot(
        self, points: list[dict[str, Any]], prop: str, unit: str, label: str, end: float
    ) -> None:
        """Draw the points, hours before now on the x axis."""
        widget = self.query_one(PlotextPlot)
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        xs = [(p["ts"] - end) / 3600 for p in points if p.get("value") is not None]
        ys = [float(p["value"]) for p in points if p.get("value") is not None]
        self.plot_title = f"{prop} ({unit}), last {label}" if unit else f"{prop}, last {label}"
        plt.title(self.plot_title)
        plt.xlabel("hours before now")
        span_h = next(span for name, span in RANGES if name == label) / 3600
        plt.xlim(-span_h, 0)
        if xs:
            plt.plot(xs, ys, marker="braille")
        widget.refresh()
