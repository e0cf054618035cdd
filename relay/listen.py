"""The relay's listening socket, bound before anything else starts (a taken port fails fast)."""

from __future__ import annotations

import argparse
import errno
import socket

from relay.errors import RelayError


class CannotListen(RelayError):
    """The node's address or port cannot be bound; the message says what to do."""


def port_number(text: str) -> int:
    """argparse type: a TCP port, 0 (any free port) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port number; use 0 to 65535 (0 picks any free port)"
        )
    return port


def bind_listener(host: str, port: int, backlog: int = 512) -> socket.socket:
    """A listening TCP socket, or CannotListen naming the address and what to do."""
    try:
        return socket.create_server((host, port), backlog=backlog)
    except OverflowError:
        raise CannotListen(f"{port} is not a port number; use 0 to 65535") from None
    except OSError as err:
        hint = (
            "another program (or relay node) is using it: stop it or choose another --port"
            if err.errno == errno.EADDRINUSE
            else "check --host (it must be an address of this machine) and --port"
        )
        raise CannotListen(
            f"cannot listen on {host}:{port}: {err.strerror or err}; {hint}"
        ) from None
