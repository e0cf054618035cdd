"""`homehub sim broadlink`: run an emulated Broadlink RM blaster until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from hub.netaddr import port_number
from integrations.broadlink import packet as pk
from integrations.broadlink.captures import DEMO_CAPTURES
from integrations.broadlink.emulator import MODELS, BroadlinkEmulator


def register(sim_subparsers: Any) -> None:
    """Add the `broadlink` command to `homehub sim`'s subparsers."""
    parser: argparse.ArgumentParser = sim_subparsers.add_parser(
        "broadlink",
        help="emulate a Broadlink RM IR blaster",
        description=(
            "Emulate a Broadlink RM IR blaster on UDP. Learning returns prepared NEC TV "
            "captures (power, volume up) a few seconds after learning starts."
        ),
        epilog="examples:\n  homehub sim broadlink              # 127.0.0.1:80 (as root)\n"
        "  homehub sim broadlink --port 8080 --model rm4pro",
    )
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=pk.PORT,
                        help="UDP port (default 80, as real blasters; below 1024 needs root)")
    parser.add_argument("--model", choices=sorted(MODELS), default="rm4mini")
    parser.add_argument("--name", default="Emulated RM", help="device name in hello replies")
    parser.add_argument("--mac", help="MAC address (default: random 34:ea:34:xx:xx:xx)")
    parser.add_argument(
        "--press-after", type=float, default=3.0,
        help="seconds after entering learning mode until a prepared capture is 'pressed'",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the emulator until interrupted; return the process exit status."""
    try:
        mac = pk.parse_mac(args.mac) if args.mac else None
    except ValueError as err:
        print(f"error: {err}")
        return 2
    emulator = BroadlinkEmulator(
        args.bind,
        args.port,
        model=args.model,
        mac=mac,
        name=args.name,
        auto_press=DEMO_CAPTURES.values(),
        auto_press_delay=args.press_after,
    )
    with contextlib.suppress(KeyboardInterrupt):
        try:
            asyncio.run(_serve(emulator))
        except PermissionError as err:
            print(
                f"error: cannot listen on {args.bind}:{args.port} ({err.strerror}): ports below "
                "1024 need root or CAP_NET_BIND_SERVICE; use e.g. --port 8080 and list "
                f'hosts = ["{args.bind}:8080"] under [integrations.broadlink]'
            )
            return 1
        except OSError as err:
            print(
                f"error: cannot listen on {args.bind}:{args.port} ({err.strerror or err}); "
                "pick another --bind address or --port"
            )
            return 1
    return 0


async def _serve(emulator: BroadlinkEmulator) -> None:
    await emulator.start()
    model = emulator.model
    print(
        f"Broadlink {model.name} (devtype {emulator.devtype:#06x}, MAC {emulator.mac_text}) "
        f"listening on udp://{emulator.bind}:{emulator.port}; Ctrl-C to stop\n"
        f'A hub finds it with hosts = ["{emulator.bind}:{emulator.port}"] under '
        "[integrations.broadlink]",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
