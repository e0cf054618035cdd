"""Who may hold a connection on the tunnel endpoint before (and just after) proving anything.

Anyone can open a WebSocket to `/v1/hub/connect` and anyone can make a hub key, so neither a
bare upgrade nor a control link may take a place that authenticated hubs need:

- `PendingBudget`: upgrades that have not yet answered the challenge. A real hub answers in
  milliseconds, so these get a short deadline, a per-address cap and a global cap of their own;
  when the global cap is full the *oldest* pending connection is dropped to make room (an
  attacker holding a thousand silent upgrades loses its own connections, not the hubs').
- `ControlBudget`: control links (claim codes for the CLI). Signed, but with a key anyone can
  make: a per-address and a global cap, and a short life.

    pending = PendingBudget(max_total=1024, per_address=32)
    ticket = pending.enter(address, drop=request.transport.abort)   # None: refuse this one
    try: ...handshake...
    finally: pending.leave(ticket)
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(eq=False, slots=True)
class Ticket:
    """One admitted connection: its address and how to drop it."""

    address: str
    drop: Callable[[], None]
    serial: int = 0
    dropped: bool = field(default=False)


class PendingBudget:
    """Connections waiting to authenticate: per-address cap; oldest dropped when full."""

    def __init__(self, max_total: int, per_address: int) -> None:
        self.max_total = max_total
        self.per_address = per_address
        self._tickets: OrderedDict[int, Ticket] = OrderedDict()  # oldest first
        self._by_address: dict[str, int] = {}
        self._serials = itertools.count()
        #: How many were refused for their address, and how many were dropped for age.
        self.refused = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._tickets)

    def count(self, address: str) -> int:
        """Pending connections from this address."""
        return self._by_address.get(address, 0)

    def enter(self, address: str, drop: Callable[[], None]) -> Ticket | None:
        """A ticket for a new connection, or None when its address already holds its share."""
        if self.per_address > 0 and self._by_address.get(address, 0) >= self.per_address:
            self.refused += 1
            return None
        while self.max_total > 0 and len(self._tickets) >= self.max_total:
            _, oldest = self._tickets.popitem(last=False)
            self._forget(oldest)
            oldest.dropped = True
            self.evicted += 1
            oldest.drop()
        ticket = Ticket(address, drop, next(self._serials))
        self._tickets[ticket.serial] = ticket
        self._by_address[address] = self._by_address.get(address, 0) + 1
        return ticket

    def leave(self, ticket: Ticket) -> None:
        """The connection authenticated, failed or closed (safe to call twice)."""
        if self._tickets.pop(ticket.serial, None) is not None:
            self._forget(ticket)

    def _forget(self, ticket: Ticket) -> None:
        left = self._by_address.get(ticket.address, 0) - 1
        if left > 0:
            self._by_address[ticket.address] = left
        else:
            self._by_address.pop(ticket.address, None)


class ControlBudget:
    """Control links held at once: per-address and in all."""

    def __init__(self, max_total: int, per_address: int) -> None:
        self.max_total = max_total
        self.per_address = per_address
        self._by_address: dict[str, int] = {}
        self._total = 0
        self.refused = 0

    def __len__(self) -> int:
        return self._total

    def enter(self, address: str) -> bool:
        """Take a place for a control link; False when there is none."""
        if self._total >= self.max_total or self._by_address.get(address, 0) >= self.per_address:
            self.refused += 1
            return False
        self._total += 1
        self._by_address[address] = self._by_address.get(address, 0) + 1
        return True

    def leave(self, address: str) -> None:
        """Give a place back."""
        self._total -= 1
        left = self._by_address.get(address, 0) - 1
        if left > 0:
            self._by_address[address] = left
        else:
            self._by_address.pop(address, None)


def client_address(request: web.Request, trusted_proxies: Iterable[str] = ()) -> str:
    """The peer's address; behind a trusted proxy (an address or a network such as
    172.16.0.0/12), the last hop that proxy names in X-Forwarded-For."""
    return address_of(
        request.remote or "?", request.headers.get("X-Forwarded-For", ""), trusted_proxies
    )


def address_of(peer: str, forwarded: str, trusted_proxies: Iterable[str] = ()) -> str:
    """`client_address` from the peer's address and its X-Forwarded-For header."""
    if forwarded and _trusted(peer, trusted_proxies):
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return peer


def _trusted(peer: str, trusted_proxies: Iterable[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in trusted_proxies:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def dropper(request: web.Request) -> Callable[[], None]:
    """A callable that cuts this request's connection at once."""

    def drop() -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    return drop
