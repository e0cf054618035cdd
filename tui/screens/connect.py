"""Before the dashboard: choose a hub found on the LAN (or type its address), then pair."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.browse import HubBrowser
from tui.errors import ApiError, HubUnreachable, TuiError
from tui.models import FoundHub

if TYPE_CHECKING:
    from tui.app import HomehubApp


class HubPickerScreen(Screen[FoundHub | None]):
    """Hubs announcing themselves over mDNS, live, and a field for an address."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Quit")]

    def __init__(self, interfaces: list[str] | None = None) -> None:
        super().__init__()
        self._browser = HubBrowser(interfaces, changed=self._refresh)

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("Looking for hubs on this network…", id="picker-status", classes="title")
            yield OptionList(id="hubs")
            yield Static("Or type the hub's address:", classes="muted")
            yield Input(placeholder="e.g. http://192.168.1.20:8470", id="url")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        """Start browsing."""
        try:
            await self._browser.start()
        except OSError as err:
            self.query_one("#picker-status", Static).update(
                f"cannot browse the network ({err}); type the hub's address below"
            )

    async def on_unmount(self) -> None:
        """Stop browsing."""
        await self._browser.stop()

    def _refresh(self) -> None:
        hubs = sorted(self._browser.hubs.values(), key=lambda h: h.name)
        options = self.query_one("#hubs", OptionList)
        options.clear_options()
        for hub in hubs:
            options.add_option(Option(f"{hub.name}  {hub.url}", id=hub.url))
        if hubs:
            options.highlighted = 0
        found = f"{len(hubs)} hub(s) found; choose one" if hubs else "Looking for hubs…"
        self.query_one("#picker-status", Static).update(found)

    @on(OptionList.OptionSelected, "#hubs")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        chosen = [h for h in self._browser.hubs.values() if h.url == event.option.id]
        if chosen:
            self.dismiss(chosen[0])

    @on(Input.Submitted, "#url")
    def _typed(self, event: Input.Submitted) -> None:
        url = event.value.strip()
        if not url:
            return
        if "://" not in url:
            url = f"http://{url}"
        self.dismiss(FoundHub(name=url, url=url.rstrip("/")))

    def action_cancel(self) -> None:
        """Leave without a hub."""
        self.dismiss(None)


class PairScreen(ModalScreen[str | None]):
    """Exchange the one-time code that `homehub pair` shows for a token."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Quit")]

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def compose(self) -> ComposeResult:
        with Vertical(id="pair"):
            yield Static(f"Pair with the hub at {self.url}", classes="title")
            yield Static(
                "On the hub, run `homehub pair` (or read the code it printed at first start) "
                "and type the code here.",
                classes="muted",
            )
            yield Input(placeholder="the code from homehub pair", id="code")
            yield Static("", id="pair-error")

    @on(Input.Submitted, "#code")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._pair(event.value.strip())

    @work(exclusive=True)
    async def _pair(self, code: str) -> None:
        app = cast("HomehubApp", self.app)
        client = app.client
        assert client is not None
        error = self.query_one("#pair-error", Static)
        error.update("pairing…")
        try:
            token = await client.pair(code, app.client_name)
            hub_id = str((await client.health()).get("hub_id", ""))
        except HubUnreachable as err:
            error.update(str(err))
            return
        except ApiError as err:
            error.update(f"{err.message} — check the code and try again")
            return
        except TuiError as err:
            error.update(str(err))
            return
        app.save_token(token, hub_id)
        self.dismiss(token)

    def action_cancel(self) -> None:
        """Give up."""
        self.dismiss(None)
