"""`homehub relay ...`: run a relay node and manage its accounts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relay.config import RelayConfig
from relay.errors import RelayError
from relay.server import RelayServer

if TYPE_CHECKING:
    from relay.voice.oauth import OAuthClient


def _data_dir(args: argparse.Namespace) -> Path:
    raw = args.data_dir or os.environ.get("HOMEHUB_RELAY_DATA_DIR")
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "homehub-relay"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `relay serve` and `relay account create`."""
    relay = subparsers.add_parser(
        "relay",
        help="run the internet relay that hubs dial out to",
        description="The relay: hubs keep an outbound WebSocket to it; phones reach them here.",
    )
    sub = relay.add_subparsers(title="relay commands", metavar="ACTION", required=True)

    serve = sub.add_parser("serve", help="run a relay node until SIGTERM/Ctrl-C")
    serve.add_argument("--host", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8480, help="listen port (default 8480)")
    serve.add_argument("--data-dir", help="database directory (or $HOMEHUB_RELAY_DATA_DIR)")
    serve.add_argument("--allow-signup", action="store_true", help="let anyone create an account")
    serve.add_argument(
        "--oauth-clients",
        help="JSON file of OAuth clients for Alexa/Google account linking: "
        '[{"client_id", "redirect_uris": [...], "secret_sha256"?}]; enables /v1/alexa and '
        "/v1/google/fulfillment",
    )
    serve.add_argument(
        "--public-url", help="the relay's public https URL (behind a TLS proxy), for OAuth"
    )
    serve.set_defaults(func=_cmd_serve)

    account = sub.add_parser("account", help="manage accounts")
    asub = account.add_subparsers(title="account commands", metavar="ACTION", required=True)
    create = asub.add_parser("create", help="create an account (password from prompt or env)")
    create.add_argument("email")
    create.add_argument("--data-dir", help="database directory (or $HOMEHUB_RELAY_DATA_DIR)")
    create.add_argument(
        "--password-env",
        default="HOMEHUB_RELAY_PASSWORD",
        help="read the password from this environment variable if set "
        "(default HOMEHUB_RELAY_PASSWORD); otherwise prompt",
    )
    create.set_defaults(func=_cmd_account_create)


def _cmd_serve(args: argparse.Namespace) -> int:
    config = RelayConfig(
        data_dir=_data_dir(args), host=args.host, port=args.port, allow_signup=args.allow_signup
    )
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    clients = None
    if args.oauth_clients:
        from relay.voice.oauth import clients_from_json

        try:
            clients = clients_from_json(json.loads(Path(args.oauth_clients).read_text()))
        except (OSError, ValueError) as err:
            print(f"error: --oauth-clients {args.oauth_clients}: {err}", file=sys.stderr)
            return 2
    try:
        asyncio.run(serve(config, clients, args.public_url))
    except RelayError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


async def serve(
    config: RelayConfig,
    oauth_clients: Sequence[OAuthClient] | None = None,
    public_url: str | None = None,
) -> None:
    """Run until SIGINT/SIGTERM, then drain (hubs reconnect spread out) and stop.

    With OAuth clients the node also serves account linking and the voice webhooks.
    """
    server: RelayServer
    if oauth_clients:
        from relay.voice.service import VoiceRelayServer

        server = VoiceRelayServer(config, oauth_clients, public_url=public_url)
    else:
        server = RelayServer(config)
    quiet_accept_errors(asyncio.get_running_loop())
    await server.start()
    print(f"relay listening on {server.url}; hubs connect to {server.tunnel_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        await server.drain()
    finally:
        await server.stop()


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Out of file handles, asyncio logs every refused accept; say it once a minute instead."""
    last = [0.0]
    default = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "accept() out of system resource" in str(context.get("message", "")):
            now = time.monotonic()
            if now - last[0] > 60:
                last[0] = now
                logging.getLogger("relay").warning(
                    "out of file handles, new connections wait; raise the open-file limit "
                    "(ulimit -n) or lower max_tunnels"
                )
            return
        if default is not None:
            default(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _cmd_account_create(args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env) or getpass.getpass("password: ")

    async def run() -> str:
        server = RelayServer(RelayConfig(data_dir=_data_dir(args)))
        await server.store.open()
        try:
            return await server.create_account(args.email, password)
        finally:
            await server.store.close()

    try:
        account_id = asyncio.run(run())
    except RelayError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    print(f"created {args.email} ({account_id})")
    return 0
