"""Power and energy history of meters, solar inverters and batteries, following live values."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Select, Static
from textual_plotext import PlotextPlot

from tui.errors import TuiError
from tui.models import Device
from tui.screens.base import HubScreen

#: (label, seconds) of the ranges offered; resolution keeps each to about 120 points.
RANGES: tuple[tuple[str, int], ...] = (
    ("1 hour", 3600),
    ("24 hours", 86400),
    ("7 days", 7 * 86400),
    ("30 days", 30 * 86400),
)
POINTS = 120
HOUR, DAY = 0, 1  # indexes into RANGES
#: The two plots: power (what flows now) and the energy counters (what has flowed).
POWER = ("power_w",)
ENERGY = ("energy_kwh", "energy_export_kwh")
LEGEND = {"power_w": "power", "energy_kwh": "energy", "energy_export_kwh": "export"}
#: The plots follow live values, but redraw at most this often (a meter reports every few s).
REDRAW_S = 2.0
#: ... and move on with the clock even when nothing is reported (a constant meter).
TICK_S = 30.0


def resolution_for(span_s: int) -> int:
    """Seconds per plotted point for a range."""
    return max(1, span_s // POINTS)


def default_device(devices: Iterable[Device]) -> Device | None:
    """What to show first: a meter that counts energy and measures power (the house's meter),
    then anything with power, then anything with an energy counter; by name within each."""

    def rank(d: Device) -> tuple[int, str]:
        has_power = "power_w" in d.properties
        has_energy = "energy_kwh" in d.properties
        meter = "meter" in d.name.lower() or "meter" in d.model.lower()
        return (0 if has_power and has_energy and meter else 1 if has_power and has_energy
                else 2 if has_power else 3, d.name.lower())

    energy = [d for d in devices if d.is_energy]
    return min(energy, key=rank) if energy else None


def range_for_age(age_s: float | None) -> int:
    """The range to open on: the last hour while the history is younger than an hour (a day
    would squeeze it into the right edge), else the last 24 hours."""
    return HOUR if age_s is not None and age_s < RANGES[HOUR][1] else DAY


def clock_ticks(start: float, end: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions (hours relative to `end`) and their local times as labels."""
    span = end - start
    fmt = "%H:%M" if span <= 2 * 86400 else "%d %b"
    positions = [start + span * i / (count - 1) for i in range(count)]
    return ([(p - end) / 3600 for p in positions],
            [time.strftime(fmt, time.localtime(p)) for p in positions])


class EnergyScreen(HubScreen):
    """A device and a range; power and energy plotted one above the other, kept live."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "range(0)", "1h"),
        Binding("2", "range(1)", "24h"),
        Binding("3", "range(2)", "7d"),
        Binding("4", "range(3)", "30d"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.range_index = DAY
        self.range_chosen = False  # by the person: then it is kept; before, it follows the data
        self.plot_title = ""  # the power plot's title (tests read it)
        self.energy_title = ""
        self._last_draw = 0.0
        self._redraw_due = False

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="toolbar"):
            yield Select[str]([], id="energy-device", prompt="meter or solar", compact=True)
            yield Select[int](
                [(label, i) for i, (label, _) in enumerate(RANGES)],
                value=self.range_index,
                allow_blank=False,
                id="energy-range",
                compact=True,
            )
        yield Static("", id="energy-message", classes="muted")
        with Vertical(id="plot"):
            yield PlotextPlot(id="plot-power")
            yield PlotextPlot(id="plot-energy")

    def on_mount(self) -> None:
        """Offer the energy devices; follow them and the clock."""
        super().on_mount()
        self.hub_app.home_changed.subscribe(self, self._devices_changed)
        self._devices_changed(None)
        self.set_interval(TICK_S, self._tick)

    def _tick(self) -> None:
        if self.is_current:
            self.load()

    def _chosen_id(self) -> str | None:
        value = self.query_one("#energy-device", Select).value
        return value if isinstance(value, str) else None

    def _devices_changed(self, device_id: str | None) -> None:
        if device_id is not None:
            # a live value of the device on screen: redraw, at most every REDRAW_S
            if device_id == self._chosen_id() and self.is_current:
                self._live()
            return
        devices = sorted(
            (d for d in self.hub_app.devices.values() if d.is_energy), key=lambda d: d.name
        )
        select: Select[str] = self.query_one("#energy-device", Select)
        current = select.value
        select.set_options([(d.name, d.id) for d in devices])
        first = default_device(devices)
        if first is not None:
            ids = [d.id for d in devices]
            select.value = current if current in ids else first.id
        else:
            self.query_one("#energy-message", Static).update(
                "No meter, solar inverter or battery on this hub yet."
            )

    def _live(self) -> None:
        now = time.monotonic()
        if now - self._last_draw >= REDRAW_S:
            self.load()
        elif not self._redraw_due:
            self._redraw_due = True
            self.set_timer(REDRAW_S - (now - self._last_draw), self._redraw_later)

    def _redraw_later(self) -> None:
        self._redraw_due = False
        self.load()

    @on(Select.Changed, "#energy-device")
    def _device_chosen(self) -> None:
        self.load()

    @on(Select.Changed, "#energy-range")
    def _range_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, int) and event.value != self.range_index:
            self.range_index = event.value
            self.range_chosen = True
            self.load()

    def action_range(self, index: int) -> None:
        """Choose a range by its number key."""
        self.query_one("#energy-range", Select).value = index

    @work(exclusive=True, group="history")
    async def load(self) -> None:
        """Fetch and plot the chosen device's power and energy over the chosen range."""
        device_id = self._chosen_id()
        device = self.hub_app.devices.get(device_id or "")
        if device_id is None or device is None:
            return
        self._last_draw = time.monotonic()
        end = float(self.hub_app.clock())
        message = self.query_one("#energy-message", Static)
        props = [p for p in (*POWER, *ENERGY) if p in device.properties]
        try:
            if not self.range_chosen:
                # open on a range the history fills: an hour while it is younger than that
                day = RANGES[DAY][1]
                first = await self.client.history(device_id, props[0], end - day, end, 3600)
                age = end - min(p["ts"] for p in first) if first else None
                self._set_range(range_for_age(age))
            label, span = RANGES[self.range_index]
            series = {
                p: await self.client.history(device_id, p, end - span, end, resolution_for(span))
                for p in props
            }
        except TuiError as err:
            message.update(f"no history: {err}")
            return
        count = sum(len(points) for points in series.values())
        now = " · ".join(
            (f"{LEGEND[p]} " if p in ENERGY else "") + device.properties[p].format(device.values[p])
            for p in props
            if device.values.get(p) is not None
        )
        samples = f"{count} samples" if count else "no samples"
        message.update((f"now {now} · " if now else "") + f"{samples} in the last {label} · live")
        self._draw("#plot-power", device, [p for p in POWER if p in series], series, end, span)
        self._draw("#plot-energy", device, [p for p in ENERGY if p in series], series, end, span)

    def _set_range(self, index: int) -> None:
        self.range_index = index
        select: Select[int] = self.query_one("#energy-range", Select)
        with select.prevent(Select.Changed):
            select.value = index

    def _draw(
        self,
        selector: str,
        device: Device,
        props: list[str],
        series: dict[str, list[dict[str, Any]]],
        end: float,
        span: int,
    ) -> None:
        """One plot: the props' samples, held to now with the live value; units on the y axis,
        local clock times on the x axis."""
        widget = self.query_one(selector, PlotextPlot)
        widget.display = bool(props)
        if not props:
            return
        plt = widget.plt
        plt.clear_data()
        plt.clear_figure()
        unit = device.properties[props[0]].unit or ""
        label = next(name for name, s in RANGES if s == span)
        what = "power" if props[0] in POWER else "energy"
        # Energy counters count from the day the meter was made (1234 kWh): plotted as they
        # are, an hour's use is a flat line. What was used or sent back since the range's
        # start is what a person asks, and import and export then share one scale.
        since = time.strftime("%H:%M" if span <= 86400 else "%d %b %H:%M",
                              time.localtime(end - span))
        title = (f"{device.name}: power ({unit}), last {label}" if what == "power"
                 else f"{device.name}: energy ({unit}) since {since}")
        if what == "power":
            self.plot_title = title
        else:
            self.energy_title = title
        plt.title(title)
        plt.ylabel(unit)
        plt.xlim(-span / 3600, 0)
        positions, labels = clock_ticks(end - span, end)
        plt.xticks(positions, labels)
        for prop in props:
            points = [p for p in series[prop] if p.get("value") is not None]
            xs = [(p["ts"] - end) / 3600 for p in points]
            ys = [float(p["value"]) for p in points]
            live = device.values.get(prop)
            if isinstance(live, int | float) and not isinstance(live, bool):
                # the value holds until now: a constant meter is a line, not one dot
                xs.append(0.0)
                ys.append(float(live))
            if what == "energy" and ys:
                ys = [y - ys[0] for y in ys]
            if xs:
                plt.plot(xs, ys, marker="braille", label=LEGEND[prop] if len(props) > 1 else None)
        widget.refresh()
