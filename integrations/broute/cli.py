"""`homehub sim broute`: an emulated Wi-SUN dongle with a smart meter behind it, on a pty."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

from integrations.broute import credentials as creds
from integrations.broute.emulator import DongleEmulator

DEMO_RBID = "00112233445566778899AABBCCDDEEFF"
DEMO_PASSWORD = "0123456789AB"


def register(sim_subparsers: Any) -> None:
    """Add the `broute` subcommand to `homehub sim`."""
    parser: argparse.ArgumentParser = sim_subparsers.add_parser(
        "broute",
        help="run an emulated Wi-SUN B-route dongle with a smart meter behind it",
        description="Run an emulated SKSTACK IP dongle (ROHM BP35A1 style) on a pseudo-terminal "
        "until Ctrl-C, and print its path: point [integrations.broute] port at it. The meter "
        "accepts the ID and password of --secrets, or the demo pair printed at start.",
        epilog="example:\n  homehub sim broute --link /tmp/wisun0 --speed 10",
    )
    parser.add_argument("--link", type=Path, metavar="PATH",
                        help="also make PATH a symlink to the pty (it follows replugging), "
                             "e.g. /tmp/wisun0")
    parser.add_argument("--secrets", type=Path, metavar="FILE",
                        help="accept the id/password of this secrets file (mode 0600) instead "
                             "of the demo pair")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="divide every delay by this (1 = as slow as real hardware)")
    parser.add_argument("--hex", action="store_true",
                        help="print ERXUDP data as hex text (WOPT 01) instead of binary")
    parser.add_argument("--session-lifetime", type=float, metavar="SECONDS",
                        help="expire the PANA session (EVENT 29) this long after each join")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the emulator and serve until interrupted."""
    if args.speed <= 0:
        print("--speed must be positive")
        return 2
    if args.secrets is not None:
        try:
            pair = creds.load(args.secrets)
        except creds.CredentialsError as err:
            print(err)
            return 2
        rbid, password, shown = pair.rbid, pair.password, f"those in {args.secrets}"
    else:
        rbid, password = DEMO_RBID, DEMO_PASSWORD
        shown = f'id = "{rbid}", password = "{password}" (demo values)'
    dongle = DongleEmulator(rbid=rbid, password=password, link=args.link, speed=args.speed,
                            hex_data=args.hex, session_lifetime_s=args.session_lifetime)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(dongle, shown))
    return 0


async def _serve(dongle: DongleEmulator, shown: str) -> int:
    await dongle.start()
    where = f"{dongle.path}" + (f" (and {dongle.link})" if dongle.link else "")
    print(f"Wi-SUN dongle emulator on {where}", flush=True)
    print(f"meter MAC {dongle.meter_mac}, channel {dongle.channel}, PAN {dongle.pan_id:04X}; "
          f"it accepts {shown}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await dongle.stop()
    return 0
