"""Where a hub's tunnel is and how to reach it: one interface, an in-process implementation.

A multi-node relay implements `Routing` with Redis (presence keys with a TTL, pub/sub per node
for requests and events); the phone API only ever talks to this interface.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from relay.errors import HubOffline
from relay.protocol import Request, Response


class HubLink(Protocol):
    """What routing needs from a connected hub session."""

    hub_id: str

    async def call(self, request: Request, timeout: float) -> Response:
        """Send a request through the tunnel and wait for the answer."""


class EventSubscription:
    """A bounded queue of one hub's events for one phone; the oldest are dropped when full."""

    def __init__(self, owner: Routing, hub_id: str, maxsize: int) -> None:
        self._owner = owner
        self.hub_id = hub_id
        self._queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Mapping[str, Any]) -> None:
        """Add without ever waiting: a slow phone loses its oldest events, nobody else waits."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def get(self) -> Mapping[str, Any]:
        """The next event (waits)."""
        return await self._queue.get()

    def close(self) -> None:
        """Stop receiving."""
        self._owner.unsubscribe(self)


class Routing(abc.ABC):
    """Presence of hubs, delivery of requests to them and fan-out of their events."""

    @abc.abstractmethod
    async def attach(self, link: HubLink) -> HubLink | None:
        """This node now holds the hub's tunnel; returns the link it replaces, if any."""

    @abc.abstractmethod
    async def detach(self, link: HubLink) -> None:
        """The tunnel closed (no-op if another link replaced it)."""

    @abc.abstractmethod
    async def is_online(self, hub_id: str) -> bool:
        """Is a tunnel for this hub attached anywhere?"""

    @abc.abstractmethod
    async def call(self, hub_id: str, request: Request, timeout: float) -> Response:
        """Deliver a request to the hub wherever its tunnel is; HubOffline if nowhere."""

    @abc.abstractmethod
    def publish(self, hub_id: str, event: Mapping[str, Any]) -> None:
        """Fan an event out to the hub's subscribers."""

    @abc.abstractmethod
    def subscribe(self, hub_id: str, maxsize: int = 500) -> EventSubscription:
        """Receive a hub's events."""

    @abc.abstractmethod
    def unsubscribe(self, sub: EventSubscription) -> None:
        """Stop a subscription."""

    @abc.abstractmethod
    def local_links(self) -> list[HubLink]:
        """The tunnels held by this node (for draining)."""


class InProcessRouting(Routing):
    """One relay node: dictionaries."""

    def __init__(self) -> None:
        self._links: dict[str, HubLink] = {}
        self._subs: dict[str, set[EventSubscription]] = {}

    async def attach(self, link: HubLink) -> HubLink | None:
        """Register; a newer tunnel of the same hub replaces the old one."""
        old = self._links.get(link.hub_id)
        self._links[link.hub_id] = link
        return old if old is not link else None

    async def detach(self, link: HubLink) -> None:
        """Forget the link if it is still the current one."""
        if self._links.get(link.hub_id) is link:
            del self._links[link.hub_id]

    async def is_online(self, hub_id: str) -> bool:
        """Is the hub attached here?"""
        return hub_id in self._links

    async def call(self, hub_id: str, request: Request, timeout: float) -> Response:
        """Call through the local link."""
        link = self._links.get(hub_id)
        if link is None:
            raise HubOffline("the hub is offline; its last known state is under /shadows")
        return await link.call(request, timeout)

    def publish(self, hub_id: str, event: Mapping[str, Any]) -> None:
        """Offer to every subscriber of the hub."""
        for sub in tuple(self._subs.get(hub_id, ())):
            sub.offer(event)

    def subscribe(self, hub_id: str, maxsize: int = 500) -> EventSubscription:
        """A new subscription."""
        sub = EventSubscription(self, hub_id, maxsize)
        self._subs.setdefault(hub_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: EventSubscription) -> None:
        """Remove a subscription."""
        subs = self._subs.get(sub.hub_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.hub_id]

    def local_links(self) -> list[HubLink]:
        """All links."""
        return list(self._links.values())

    @property
    def online_count(self) -> int:
        """How many hubs are attached."""
        return len(self._links)
