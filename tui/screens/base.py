"""What every hub screen shares: header, connection bar, footer and access to the app state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header

from tui.client import HubClient
from tui.widgets import ConnectionBar

if TYPE_CHECKING:
    from tui.app import HomehubApp

# (key, mode, footer label) of the screens besides Home: the keys work everywhere, the dashboard's
# footer lists them, the other footers keep their room for their own keys at 80 columns.
SCREEN_KEYS = (
    ("r", "rules", "Rules"),
    ("s", "scenes", "Scenes"),
    ("l", "events", "Log"),
    ("n", "discovery", "New"),
    ("i", "ir", "IR"),
    ("e", "energy", "Energy"),
)


class HubScreen(Screen[None]):
    """A screen that shows the hub's connection state above its body."""

    @property
    def hub_app(self) -> HomehubApp:
        """The app, typed."""
        from tui.app import HomehubApp

        return cast(HomehubApp, self.app)

    @property
    def client(self) -> HubClient:
        """The hub client (the app always has one once a hub screen is shown)."""
        client = self.hub_app.client
        if client is None:
            raise RuntimeError("no hub chosen yet")
        return client

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBar(id="connection")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> Iterable[Widget]:
        """The screen's own widgets."""
        return ()

    def on_mount(self) -> None:
        """Follow the connection state."""
        self.hub_app.link_changed.subscribe(self, self._show_link)
        self._show_link(self.hub_app.link)

    def _show_link(self, link: tuple[str, str]) -> None:
        self.query_one(ConnectionBar).show_state(*link)
