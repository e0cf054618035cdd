"""`homehub sim echonet`: run one emulated ECHONET Lite node from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from hub.netaddr import port_number
from integrations.echonet.emulator import KINDS, EchonetNode
from integrations.echonet.transport import PORT, sockets_bound_at


def register(sim_subparsers: Any) -> None:
    """Add the `echonet` subcommand to `homehub sim`."""
    parser: argparse.ArgumentParser = sim_subparsers.add_parser(
        "echonet",
        help="run an emulated ECHONET Lite node (air conditioner, meter, solar, ...)",
        description="Run one emulated ECHONET Lite node on UDP 3610 until Ctrl-C. Each node "
        "needs its own address; a hub reaches it when the address is under hosts in "
        "[integrations.echonet] (or by multicast with --multicast).",
        epilog="example:\n  homehub sim echonet --bind 127.0.0.2 --objects aircon,meter,solar",
    )
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1; use a distinct "
                             "127.0.0.x per node to run several)")
    parser.add_argument("--port", type=port_number, default=PORT, help=argparse.SUPPRESS)
    parser.add_argument("--objects", default="aircon,meter,solar,battery,light,water_heater",
                        help=f"comma-separated objects: {','.join(KINDS)}")
    parser.add_argument("--multicast", action="store_true",
                        help="also join 224.0.23.0 (announce and answer discovery there)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the node and serve until interrupted."""
    kinds = [k.strip() for k in str(args.objects).split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        print(f"unknown objects: {', '.join(unknown) or '(none given)'}; "
              f"choose from {', '.join(KINDS)}")
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(args.bind, args.port, kinds, args.multicast))
    return 0


async def _serve(bind: str, port: int, kinds: list[str], multicast: bool) -> int:
    node = EchonetNode(bind=bind, objects=kinds, port=port, multicast=multicast)
    try:
        await node.start()
    except OSError as err:
        print(f"cannot listen on {bind}:{port}: {err}")
        return 1
    # Counted after binding, so two nodes started at the same moment both notice.
    if (await asyncio.to_thread(sockets_bound_at, bind, port) or 1) > 1:
        await node.stop()
        print(f"{bind}:{port} is already in use (another ECHONET Lite node or controller); "
              "give this node its own address, e.g. --bind 127.0.0.2")
        return 1
    objects = ", ".join(f"{o.kind} {o.eoj}" for o in node.objects)
    print(f"ECHONET Lite node listening on {bind}:{port} (udp): {objects}", flush=True)
    if multicast and not node.transport.multicast_ok:
        print("multicast is not available on this interface; controllers must list "
              f"{bind} under hosts", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await node.stop()
    return 0
