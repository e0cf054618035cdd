"""`homehub`: run the hub, the demo home, emulators, the relay, the TUI and IR tools.

Every subcommand sets `func(args) -> int`; errors print one line saying what to do, never a
traceback (run with --debug to see one).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub import __version__
from hub.errors import ConfigError, HubError, NotFound
from hub.netaddr import port_number

#: Commands contributed by other packages: (module with `register(subparsers)`, where).
_TOP_LEVEL_PLUGINS = (
    "ir_codes.cli",
    "relay.cli",
    "hub.relay_link.cli",
    "hub.backup.cli",
    "tui.cli",
)
_SIM_PLUGINS = (
    "integrations.echonet.cli",
    "integrations.broadlink.cli",
    "integrations.esphome.cli",
    "integrations.broute.cli",
    "integrations.nature_remo.cli",
)

_DESCRIPTION = """\
homehub: a local-first home hub. It drives ECHONET Lite appliances, Broadlink IR blasters and
ESPHome devices on your LAN, keeps their state and history in SQLite, runs your automation
rules locally, and reaches the internet only by dialling out to a relay.

start here:
  homehub demo                 an emulated home (hub + devices + relay) on this machine
  homehub hub                  run the hub for a real home (config: <data-dir>/homehub.toml)
  homehub pair                 show a one-time code to pair a phone, the TUI or a script
  homehub tui                  the terminal console on the LAN
"""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps prose to the terminal; keeps paragraphs with indented lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for para in text.split("\n\n"):
            if any(line.startswith(" ") for line in para.splitlines()):
                paragraphs.append("\n".join(indent + line for line in para.splitlines()))
            else:
                paragraphs.append(super()._fill_text(para, width, indent))
        return "\n\n".join(paragraphs)


def _subparsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    return [
        (name, child)
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, child in action.choices.items()
    ]


def _use_formatter(parser: argparse.ArgumentParser) -> None:
    # Plugins build their parsers without knowing ours; one formatter for the whole tree.
    parser.formatter_class = _HelpFormatter
    for _, child in _subparsers(parser):
        _use_formatter(child)


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        help="where the database and homehub.toml live (default: ~/.local/share/homehub, "
        "or $HOMEHUB_DATA_DIR)",
    )
    p.add_argument("--config", type=Path, help="config file (default: <data-dir>/homehub.toml)")


_CORE_COMMANDS = frozenset({"hub", "demo", "pair", "token"})


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The command tree; without `plugins`, only the core commands (a faster hub start)."""
    parser = argparse.ArgumentParser(
        prog="homehub",
        description=_DESCRIPTION,
    )
    parser.add_argument("--version", action="version", version=f"homehub {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logs and full tracebacks")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser(
        "hub",
        help="run the hub",
        description="Run the hub until Ctrl-C: it serves the API on the LAN, finds and drives "
        "the devices its config names, and prints a pairing code while no client is paired.",
        epilog="example:\n  homehub hub --data-dir /srv/homehub --port 8470",
    )
    _add_data_dir(p)
    p.add_argument("--host", help="API listen address (default 0.0.0.0)")
    p.add_argument("--port", type=port_number, help="API port (default 8470)")
    p.add_argument("--no-mdns", action="store_true", help="do not advertise on the LAN")
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("HOMEHUB_LOG_FORMAT", "text"),
        help="text lines (default), or one JSON object a line with request and hub ids and an "
        "access line per request (or $HOMEHUB_LOG_FORMAT)",
    )
    p.set_defaults(func=_cmd_hub)

    p = sub.add_parser(
        "demo",
        help="start an emulated home and show it working",
        description="Start a hub, emulated devices and a relay on this machine, show them "
        "working, and keep running until Ctrl-C.",
        epilog="examples:\n  homehub demo\n  homehub demo --json --duration 60"
        "   # one JSON line for scripts, stop after a minute",
    )
    p.add_argument("--data-dir", type=Path, help="keep the demo's data here (default: temporary)")
    p.add_argument(
        "--port", type=port_number, default=0, help="hub API port (default: any free port)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON line first (hub_url, token, emulators, relay) for scripts",
    )
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "pair",
        help="show a one-time code that a new client exchanges for a token",
        description="Print a pairing code, valid for 10 minutes and usable once. Enter it in "
        "the TUI or POST it to /api/v1/pair. The hub must have run with the same data folder.",
        epilog="example:\n  homehub pair --data-dir /srv/homehub",
    )
    _add_data_dir(p)
    p.set_defaults(func=_cmd_pair)

    p = sub.add_parser(
        "token",
        help="create, list or revoke API tokens",
        description="API tokens for scripts and clients that do not pair (sent as "
        "'Authorization: Bearer ...'). Run these on the hub's machine.",
        epilog="example:\n  homehub token list",
    )
    tsub = p.add_subparsers(title="token commands", metavar="ACTION", required=True)
    t = tsub.add_parser(
        "create",
        help="make a token (shown once)",
        description="Make an API token and print it once; only its hash is stored.",
        epilog="example:\n  homehub token create 'kitchen tablet'",
    )
    _add_data_dir(t)
    t.add_argument("name", help="who the token is for, e.g. 'kitchen tablet'")
    t.set_defaults(func=_cmd_token_create)
    t = tsub.add_parser(
        "list",
        help="list tokens",
        description="List every token's id, state (active or revoked) and name.",
        epilog="example:\n  homehub token list --data-dir /srv/homehub",
    )
    _add_data_dir(t)
    t.set_defaults(func=_cmd_token_list)
    t = tsub.add_parser(
        "revoke",
        help="revoke a token by id",
        description="Revoke a token: clients using it are refused within seconds. "
        "'homehub token list' shows the ids.",
        epilog="example:\n  homehub token revoke tok_3f9a1c0b2d4e",
    )
    _add_data_dir(t)
    t.add_argument("token_id", help="the token's id (tok_...), as 'homehub token list' shows")
    t.set_defaults(func=_cmd_token_revoke)

    if not plugins:
        _use_formatter(parser)
        return parser
    sim = sub.add_parser(
        "sim",
        help="run an emulated device speaking its real protocol",
        description="Emulated devices for trying homehub without hardware. Each speaks its "
        "real protocol on this machine until Ctrl-C.",
        epilog="example:\n  homehub sim echonet --bind 127.0.0.2 --objects aircon,meter",
    )
    sim_sub = sim.add_subparsers(title="devices", metavar="KIND", required=True)
    for module in _SIM_PLUGINS:
        _register_plugin(module, sim_sub)
    for module in _TOP_LEVEL_PLUGINS:
        _register_plugin(module, sub)
    _use_formatter(parser)
    return parser


def _register_plugin(module: str, subparsers: Any) -> None:
    # A broken part (say the IR tools) must not take `homehub hub` down with it; the test
    # suite checks that every plugin registers.
    try:
        importlib.import_module(module).register(subparsers)
    except Exception as err:
        logging.getLogger(__name__).warning("commands of %s are unavailable: %s", module, err)


def _config(args: argparse.Namespace) -> Any:
    from hub.config import load_config

    return load_config(getattr(args, "data_dir", None), getattr(args, "config", None))


def _cmd_hub(args: argparse.Namespace) -> int:
    from hub.app import run_hub
    from hub.netaddr import WILDCARD_HOSTS
    from relay.private_files import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)  # the database, keys and backups it writes are the owner's only

    cfg = _config(args)
    changes: dict[str, Any] = {}
    if args.host:
        changes["api_host"] = args.host
    if args.port is not None:
        changes["api_port"] = args.port
    if args.no_mdns:
        changes["advertise"] = False
    cfg = cfg.with_overrides(**changes)
    logging.getLogger().setLevel(cfg.log_level if not args.debug else "DEBUG")

    async def announce(hub: Any) -> None:
        if not await hub.auth.list_tokens():
            code = await hub.auth.create_pairing_code()
            print(f"No client is paired yet. Pairing code (10 min, once): {code}", flush=True)
        print(f"homehub is serving {hub.lan_url}/api/v1 (data: {cfg.data_dir})", flush=True)
        if hub.lan_url != hub.url:
            print(f"  listening on all addresses; on this machine also {hub.url}", flush=True)
        elif cfg.api_host in WILDCARD_HOSTS:
            print(
                "  no LAN address found (only loopback is up); phones cannot reach it yet",
                flush=True,
            )

    asyncio.run(run_hub(cfg, announce))
    return 0


async def _with_auth(args: argparse.Namespace, action: Any) -> Any:
    from hub.auth import Auth
    from hub.clock import SystemClock
    from hub.store import Database

    cfg = _config(args)
    if not cfg.db_path.is_file():
        # Opening would create an empty database whose codes and tokens no hub accepts.
        raise ConfigError(
            f"no hub keeps its data in {cfg.data_dir} (there is no {cfg.db_path.name}); "
            "check --data-dir (or HOMEHUB_DATA_DIR), or start the hub there once with "
            f"'homehub hub --data-dir {cfg.data_dir}'"
        )
    db = Database(cfg.db_path)
    await db.open()
    try:
        return await action(Auth(db, SystemClock()))
    finally:
        await db.close()


def _cmd_pair(args: argparse.Namespace) -> int:
    code = asyncio.run(_with_auth(args, lambda auth: auth.create_pairing_code()))
    print(f"Pairing code: {code}  (valid 10 minutes, once)")
    print('Enter it in \'homehub tui\', or: POST /api/v1/pair {"code": ..., "client_name": ...}')
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    token_id, token = asyncio.run(_with_auth(args, lambda auth: auth.create_token(args.name)))
    print(f"{token_id}  {token}")
    print("Keep the token secret; it is shown only now. Send it as 'Authorization: Bearer ...'.")
    return 0


def _cmd_token_list(args: argparse.Namespace) -> int:
    tokens = asyncio.run(_with_auth(args, lambda auth: auth.list_tokens()))
    if not tokens:
        print("No tokens. Run 'homehub pair' to pair a client.")
    for t in tokens:
        state = "revoked" if t.revoked else "active"
        print(f"{t.id}  {state:8} {t.name}")
    return 0


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    try:
        asyncio.run(_with_auth(args, lambda auth: auth.revoke(args.token_id)))
    except NotFound:
        raise NotFound(f"no token {args.token_id!r}; 'homehub token list' shows the ids") from None
    print(f"Revoked {args.token_id}; it stops working within seconds.")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from hub.cli.demo import run_demo

    return asyncio.run(run_demo(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `homehub` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    # `homehub hub` should not pay for importing the TUI, relay and IR tools.
    parser = build_parser(plugins=command not in _CORE_COMMANDS)
    args = parser.parse_args(argv)
    from relay import logjson

    logjson.configure(
        getattr(args, "log_format", "text"), logging.DEBUG if args.debug else logging.INFO
    )
    # One line per HTTP request from our own clients is noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except HubError as err:
        if args.debug:
            raise
        print(f"homehub: {err.message}", file=sys.stderr)
        return 2
    except OSError as err:
        if args.debug:
            raise
        print(f"homehub: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
