"""`homehub sim remo`: run an emulated Nature Remo (local API, optional mDNS) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from integrations.nature_remo.demo import demo_remo


def register(sim_subparsers: Any) -> None:
    """Add the `remo` command to `homehub sim`'s subparsers."""
    parser: argparse.ArgumentParser = sim_subparsers.add_parser(
        "remo",
        help="emulate a Nature Remo (its local HTTP API)",
        description=(
            "Emulate a Nature Remo's local API: GET /messages (the last IR signal heard) and "
            "POST /messages (send one), with the X-Requested-With header required. Someone "
            "'presses' a TV remote at it every few seconds, so learning has something to hear."
        ),
        epilog="examples:\n  homehub sim remo --port 8080\n"
        "  homehub sim remo --bind 0.0.0.0 --port 80 --advertise   # found over mDNS",
    )
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=80,
                        help="TCP port (default 80, as real Remos; below 1024 needs root)")
    parser.add_argument("--name", help="mDNS instance name (default: Remo-XXXXXX, random)")
    parser.add_argument("--advertise", action="store_true",
                        help="announce it over mDNS as _remo._tcp, as a real Remo does")
    parser.add_argument("--hear-every", type=float, default=5.0, metavar="SECONDS",
                        help="seconds between the room's remote presses (0: never)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the emulator until interrupted; return the process exit status."""
    remo = demo_remo(args.bind, args.port, hear_every=args.hear_every, advertise=args.advertise,
                     instance=args.name)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(_serve(remo))
        except PermissionError as err:
            print(
                f"error: cannot listen on {args.bind}:{args.port} ({err.strerror}): ports below "
                "1024 need root or CAP_NET_BIND_SERVICE; use e.g. --port 8080"
            )
            return 1
        except OSError as err:
            print(
                f"error: cannot listen on {args.bind}:{args.port} ({err.strerror or err}); "
                "pick another --bind address or --port"
            )
            return 1
    return 0


async def _serve(remo: Any) -> None:
    await remo.start()
    print(
        f"Nature Remo {remo.instance} listening on {remo.url} (GET/POST /messages); Ctrl-C to "
        f"stop\nA hub finds it with hosts = [{{host = \"{remo.bind}\", port = {remo.port}, "
        f'name = "{remo.instance}"}}] under [integrations.nature_remo]',
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await remo.stop()
