"""Where a hub's tunnel is and how to reach it: one interface, an in-process implementation.

A multi-node relay uses `RedisRouting` (relay/routing_redis.py: presence keys with a TTL, a
channel per node for requests, a fencing number per tunnel); the phone API, the queue and the
tunnels only ever talk to this interface. `routing_for(config)` picks one from the config.
"""

from __future__ import annotations

import abc
import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from relay.errors import HubOffline
from relay.protocol import Request, Response

if TYPE_CHECKING:
    from relay.config import RelayConfig

NoticeHandler = Callable[[str, str], None]  # (notice, hub id)


class HubLink(Protocol):
    """What routing needs from a connected hub session."""

    hub_id: str

    async def call(self, request: Request, timeout: float) -> Response:
        """Send a request through the tunnel and wait for the answer."""

    async def close(self, code: int, reason: str) -> None:
        """Close the tunnel with a reason the hub logs."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A relay node as the route endpoint reports it."""

    node_id: str
    url: str
    tunnels: int
    capacity: int
    draining: bool = False
    healthy: bool = True

    @property
    def load(self) -> float:
        """Share of its capacity in use."""
        return self.tunnels / self.capacity if self.capacity > 0 else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "node_id": self.node_id,
            "url": self.url,
            "tunnels": self.tunnels,
            "capacity": self.capacity,
            "draining": self.draining,
            "healthy": self.healthy,
        }


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

    node_id: str = "local"
    _notice_handler: NoticeHandler | None = None
    _describe: Callable[[], NodeInfo] | None = None

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect (a cluster routing); nothing for one process."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Give up presence and disconnect."""

    def health(self) -> str | None:
        """None when healthy, else why not (shown by /v1/health, which answers 503)."""
        return None

    def on_notice(self, handler: NoticeHandler) -> None:
        """Call `handler(notice, hub_id)` for notices meant for the node that holds a hub."""
        self._notice_handler = handler

    def describe_with(self, describe: Callable[[], NodeInfo]) -> None:
        """How this node describes itself to the route endpoint (url, load, draining)."""
        self._describe = describe

    def _deliver_notice(self, notice: str, hub_id: str) -> None:
        if self._notice_handler is not None:
            self._notice_handler(notice, hub_id)

    @abc.abstractmethod
    def is_local(self, hub_id: str) -> bool:
        """Is the hub's tunnel on this node?"""

    @abc.abstractmethod
    async def notify(self, hub_id: str, notice: str) -> None:
        """Tell the node holding the hub (e.g. "queue": deliver its queue); no-op if nowhere."""

    @abc.abstractmethod
    async def nodes(self) -> list[NodeInfo]:
        """The live nodes of the cluster (this one alone in one process)."""

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

    async def subscribed(self, sub: EventSubscription, timeout: float) -> bool:
        """Wait until `sub` receives events published from now on (at most `timeout` s).

        In one process a subscription receives at once; a cluster routing waits for its
        broker to confirm, so a phone told "hello" misses no event that follows.
        """
        return True

    @abc.abstractmethod
    def local_links(self) -> list[HubLink]:
        """The tunnels held by this node (for draining)."""


class InProcessRouting(Routing):
    """One relay node: dictionaries."""

    def __init__(self) -> None:
        self._links: dict[str, HubLink] = {}
        self._subs: dict[str, set[EventSubscription]] = {}

    def is_local(self, hub_id: str) -> bool:
        """Every attached hub is local."""
        return hub_id in self._links

    async def notify(self, hub_id: str, notice: str) -> None:
        """Hand the notice to this node's handler if the hub is here."""
        if hub_id in self._links:
            self._deliver_notice(notice, hub_id)

    async def nodes(self) -> list[NodeInfo]:
        """Just this node."""
        if self._describe is None:
            return []
        return [self._describe()]

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


def routing_for(config: RelayConfig) -> Routing:
    """The routing a config asks for: Redis for `routing_url`, else this process only."""
    if not config.routing_url:
        return InProcessRouting()
    if not config.routing_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"routing {config.routing_url!r}: give a redis://host:port/db URL, or nothing for "
            "one relay process"
        )
    from relay.routing_redis import RedisRouting

    return RedisRouting(
        config.routing_url,
        prefix=config.routing_prefix,
        node_id=config.node_id or "node-" + secrets.token_hex(4),
    )
