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
from relay.listen import port_number
from relay.private_files import PRIVATE_UMASK
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
        epilog="example:\n  homehub relay serve --data-dir /var/lib/homehub-relay",
    )
    sub = relay.add_subparsers(title="relay commands", metavar="ACTION", required=True)

    serve = sub.add_parser(
        "serve",
        help="run a relay node until SIGTERM/Ctrl-C",
        description="Run a relay node: hubs dial in over a WebSocket, phones use its HTTPS API "
        "(put a TLS proxy in front). On SIGTERM it drains, telling hubs to reconnect spread "
        "out over time. With --oauth-clients it also serves Alexa and Google. With "
        "HOMEHUB_RELAY_METRICS_TOKEN set it serves Prometheus metrics at GET /metrics to "
        "'Authorization: Bearer <that token>'.",
        epilog="examples:\n  homehub relay serve --data-dir /var/lib/homehub-relay --port 8480\n"
        "  homehub relay serve --oauth-clients clients.json --public-url https://relay.example.org",
    )
    serve.add_argument("--host", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("HOMEHUB_LOG_FORMAT", "text"),
        help="text lines (default), or one JSON object a line with request and hub ids and an "
        "access line per request (or $HOMEHUB_LOG_FORMAT)",
    )
    serve.add_argument("--port", type=port_number, default=8480, help="listen port (default 8480)")
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
    _cluster_arguments(serve)
    serve.add_argument(
        "--node-id", help="this node's name in a cluster (default: random at each start)"
    )
    serve.add_argument(
        "--drain-grace",
        type=float,
        default=0.0,
        metavar="S",
        help="on SIGTERM, report unhealthy for S seconds before moving hubs away, so a load "
        "balancer stops sending traffic first (default 0; 2-3 behind HAProxy)",
    )
    serve.add_argument(
        "--node-url",
        help="how hubs reach this node directly, handed out by GET /v1/hub/route "
        "(default: the listen address)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        metavar="ADDRESS",
        help="a load balancer's address or network (e.g. 172.16.0.0/12) whose "
        "X-Forwarded-For names the real client, for the per-address limits; repeatable",
    )
    serve.add_argument(
        "--push-contact",
        default=RelayConfig.push_contact,
        metavar="URI",
        help="who runs this relay, for the push services (the VAPID subject): "
        "mailto:you@example.org or an https URL",
    )
    serve.add_argument(
        "--push-allow-insecure-endpoints",
        action="store_true",
        help="accept Web Push endpoints on plain http or local addresses (tests and demos "
        "with a local push endpoint; never on a public relay)",
    )
    serve.set_defaults(func=_cmd_serve)

    account = sub.add_parser(
        "account",
        help="manage accounts",
        description="Accounts of this relay (people who claim hubs and use the phone API).",
        epilog="example:\n  homehub relay account create me@example.org",
    )
    asub = account.add_subparsers(title="account commands", metavar="ACTION", required=True)
    create = asub.add_parser(
        "create",
        help="create an account (password from prompt or env)",
        description="Create a relay account. The password comes from $HOMEHUB_RELAY_PASSWORD "
        "(or --password-env) when set, else from a prompt; it is stored hashed (argon2).",
        epilog="examples:\n  homehub relay account create me@example.org\n"
        "  HOMEHUB_RELAY_PASSWORD=... homehub relay account create me@example.org"
        " --data-dir /var/lib/homehub-relay",
    )
    create.add_argument("email", help="the account's e-mail address (its login)")
    create.add_argument("--data-dir", help="database directory (or $HOMEHUB_RELAY_DATA_DIR)")
    _cluster_arguments(create, routing=False)
    create.add_argument(
        "--password-env",
        default="HOMEHUB_RELAY_PASSWORD",
        help="read the password from this environment variable if set "
        "(default HOMEHUB_RELAY_PASSWORD); otherwise prompt",
    )
    create.set_defaults(func=_cmd_account_create)


def _cluster_arguments(parser: argparse.ArgumentParser, routing: bool = True) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get("HOMEHUB_RELAY_STORE", ""),
        help="postgresql://user@host/db for a store shared by several nodes "
        "(or $HOMEHUB_RELAY_STORE; default: SQLite in the data directory)",
    )
    if routing:
        parser.add_argument(
            "--routing",
            default=os.environ.get("HOMEHUB_RELAY_ROUTING", ""),
            help="redis://host:port/db to route between several nodes "
            "(or $HOMEHUB_RELAY_ROUTING; default: this process only)",
        )
        parser.add_argument(
            "--routing-prefix",
            default="homehub:relay:",
            help="prefix of this cluster's Redis keys (default homehub:relay:)",
        )


def _config(args: argparse.Namespace, **kw: Any) -> RelayConfig:
    config = RelayConfig(data_dir=_data_dir(args), store_url=args.store, **kw)
    if config.store_url and not config.store_url.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"--store {config.store_url!r}: give a postgresql://user@host/db URL")
    return config


def _cmd_serve(args: argparse.Namespace) -> int:
    os.umask(PRIVATE_UMASK)  # sessions and backups it writes are the operator's only
    try:
        config = _config(
            args,
            host=args.host,
            port=args.port,
            allow_signup=args.allow_signup,
            routing_url=args.routing,
            routing_prefix=args.routing_prefix,
            node_id=args.node_id or "",
            node_url=args.node_url or "",
            drain_grace_s=max(0.0, args.drain_grace),
            trusted_proxies=tuple(args.trusted_proxy or ()),
            # From the environment, not argv: other users can read a process's arguments.
            metrics_token=os.environ.get("HOMEHUB_RELAY_METRICS_TOKEN") or None,
            push_contact=args.push_contact,
            push_allow_insecure_endpoints=args.push_allow_insecure_endpoints,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
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
        server = RelayServer(_config(args))
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
