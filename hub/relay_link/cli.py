"""`homehub relay-code`: show a one-time code that claims this hub for a relay account.

Works whether or not the hub is running: it opens a short control link with the hub's identity
from the data directory (the hub's own tunnel stays up).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from hub.relay_link.client import LinkError
from hub.relay_link.control import claim_code_for_data_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `relay-code`."""
    p = subparsers.add_parser(
        "relay-code",
        help="show a one-time code that claims this hub for a relay account",
        description="Ask the relay (config [relay] url, or --relay-url) for a one-time code; "
        "enter it in the phone app (POST /v1/hubs/claim) within 10 minutes.",
        epilog="example:\n  homehub relay-code --data-dir /srv/homehub",
    )
    p.add_argument("--data-dir", type=Path, help="the hub's data directory")
    p.add_argument("--config", type=Path, help="config file (default: <data-dir>/homehub.toml)")
    p.add_argument("--relay-url", help="relay URL (default: [relay] url from the config)")
    p.set_defaults(func=_cmd_relay_code)


def _cmd_relay_code(args: argparse.Namespace) -> int:
    from hub.config import load_config

    config = load_config(args.data_dir, args.config)
    url = args.relay_url or config.relay_url
    if not url:
        print(
            "error: no relay configured; set [relay] url in homehub.toml or pass --relay-url",
            file=sys.stderr,
        )
        return 2
    try:
        code = asyncio.run(claim_code_for_data_dir(url, config.data_dir))
    except (LinkError, OSError, TimeoutError) as err:
        print(f"error: could not get a code from {url}: {err}; is the relay up?", file=sys.stderr)
        return 1
    minutes = int(code.expires_in // 60)
    print(f"{code.code}   (valid for {minutes} minutes, once)")
    return 0
