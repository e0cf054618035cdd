"""`homehub sim esphome`: run one emulated ESPHome node from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from hub.netaddr import port_number
from integrations.esphome.config import DEFAULT_PORT
from integrations.esphome.emulated_entities import (
    default_entities,
    ir_blaster_entities,
    sensor_only_entities,
)
from integrations.esphome.emulator import EsphomeEmulator


def register(sim_subparsers: Any) -> None:
    """Add the `esphome` subcommand to `homehub sim`."""
    parser: argparse.ArgumentParser = sim_subparsers.add_parser(
        "esphome",
        help="run an emulated ESPHome node (native API, optional Noise encryption, mDNS)",
        description="Run one emulated ESPHome node speaking the native API until Ctrl-C.",
        epilog="example:\n  homehub sim esphome --bind 127.0.0.3 --name living-room --entities ir",
    )
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, metavar="P",
                        help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--name", default="esphome-node", metavar="N",
                        help="node name, as in the device's YAML (default esphome-node)")
    parser.add_argument("--noise-key", default=None, metavar="KEY",
                        help="api encryption key (32 bytes, base64); plaintext without it")
    parser.add_argument("--password", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--entities", choices=("full", "sensor", "ir"), default="full",
                        help="full: sensors, motion, relay, lamp, fan, thermostat; "
                             "sensor: temperature, humidity and a relay; "
                             "ir: an IR blaster (infrared transmitter and receiver)")
    parser.add_argument("--no-mdns", action="store_true",
                        help="do not announce the node as _esphomelib._tcp over mDNS")
    parser.set_defaults(func=run)


_ENTITY_SETS = {"full": default_entities, "sensor": sensor_only_entities, "ir": ir_blaster_entities}


def run(args: argparse.Namespace) -> int:
    """Start the node and serve until interrupted."""
    try:
        dev = EsphomeEmulator(
            args.name,
            bind=args.bind,
            port=args.port,
            noise_psk=args.noise_key,
            password=args.password,
            entities=_ENTITY_SETS[args.entities](),
            advertise=not args.no_mdns,
        )
    except ValueError as err:
        print(f"--noise-key: {err}")
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(dev))
    return 0


async def _serve(dev: EsphomeEmulator) -> int:
    try:
        await dev.start()
    except OSError as err:
        print(f"cannot listen on {dev.bind}:{dev.port}: {err}")
        return 1
    mode = "Noise-encrypted" if dev.noise_key is not None else "plaintext"
    names = ", ".join(e.object_id for e in dev.entities.entities)
    print(f"ESPHome node {dev.name!r} (mac {dev.mac}) on {dev.bind}:{dev.port}, {mode}: {names}",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await dev.stop()
    return 0
