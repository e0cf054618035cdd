"""Which address of this machine a phone or the TUI on the LAN would use to reach it."""

from __future__ import annotations

import errno
import socket

#: TEST-NET-1 (RFC 5737): never routed, so asking for a route to it sends nothing anywhere.
_PROBE = ("192.0.2.1", 9)
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


def lan_address() -> str | None:
    """The IPv4 address the default route leaves from, or None (no network but loopback)."""
    # A UDP connect() only asks the kernel for a route and a source address; no packet leaves.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(_PROBE)
            address = str(sock.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def port_number(text: str) -> int:
    """argparse type: a TCP/UDP port, 0 (any free port) to 65535, with a message that says so."""
    import argparse

    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"{port} is not a port number; use 0 to 65535 (0 picks any free port)"
        )
    return port


def bind_listener(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening TCP socket, or OSError with one line naming the address and what to do."""
    try:
        return socket.create_server((host, port), backlog=backlog, reuse_port=False)
    except OverflowError:
        raise OSError(f"{port} is not a port number; use 0 to 65535") from None
    except OSError as err:
        reason = err.strerror or str(err)
        hint = (
            "another program (or another hub) is using it: stop it or choose another port"
            if err.errno == errno.EADDRINUSE
            else "check the address (it must be one of this machine's) and the port"
        )
        raise OSError(err.errno, f"cannot listen on {host}:{port}: {reason}; {hint}") from None
