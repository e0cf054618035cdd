"""`homehub tui`: find the hub (or take --url), pair once, then open the console."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from tui.config import TOKEN_ENV, TokenStore
from tui.models import FoundHub

BROWSE_S = 3.0


def register(subparsers: Any) -> None:
    """Add the `tui` command to homehub's command tree."""
    p = subparsers.add_parser(
        "tui",
        help="the terminal console on the LAN",
        description="Open the homehub console. Without --url it looks for hubs on this network "
        "over mDNS; the first time, it asks for the pairing code that `homehub pair` shows and "
        "keeps the token in $XDG_CONFIG_HOME/homehub/tui.json (readable only by you).",
        epilog="examples:\n  homehub tui\n  homehub tui --url http://192.168.1.20:8470",
    )
    p.add_argument("--url", help="the hub's address, e.g. http://192.168.1.20:8470")
    p.add_argument(
        "--token",
        help=f"an API token (default: ${TOKEN_ENV}, else the one saved when pairing)",
    )
    p.add_argument(
        "--name", default="homehub tui", help="how this console appears in the hub's token list"
    )
    p.set_defaults(func=run)


def resolve(args: argparse.Namespace, store: TokenStore) -> tuple[str | None, str | None]:
    """The URL and token to start with: flags, then the environment, then the saved ones."""
    url: str | None = args.url.rstrip("/") if args.url else None
    token: str | None = args.token or os.environ.get(TOKEN_ENV) or None
    if url is not None and token is None:
        token = store.token_for(url)
    return url, token


async def _browse_one() -> FoundHub | None:
    """The hub if exactly one answers quickly (then there is nothing to choose)."""
    from tui.browse import HubBrowser

    try:
        async with HubBrowser() as browser:
            hubs = await browser.wait_for_hubs(BROWSE_S)
    except OSError:
        return None
    return hubs[0] if len(hubs) == 1 else None


def run(args: argparse.Namespace) -> int:
    """Run the console until the user quits."""
    from tui.app import HomehubApp
    from tui.client import HubClient

    store = TokenStore()
    url, token = resolve(args, store)
    if url is None:
        found = asyncio.run(_browse_one())
        if found is not None:
            url = found.url
            token = token or store.token_for(found.url, found.hub_id)
    client = HubClient(url, token) if url is not None else None
    app = HomehubApp(client, store=store, client_name=args.name)
    result = app.run()
    # A crash leaves result None but sets return_code: the shell must see the failure.
    return app.return_code or int(result or 0)
