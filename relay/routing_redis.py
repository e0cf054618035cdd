"""Routing between relay nodes on Redis (redis-py's asyncio client).

Keys, all under one prefix (default `homehub:relay:`) so clusters can share a Redis:

    hub:<hub id>       "<node id> <fence>", with a TTL the holding node keeps refreshing
    fences             hash hub id -> the last fencing number handed out for that hub
    node:<node id>     JSON {url, tunnels, capacity, draining, healthy}, TTL NODE_TTL_S
    nodes              sorted set node id -> last heartbeat (ms), for the route endpoint

Channels:

    ch:<node id>       requests to the hubs this node holds, their replies, notices
    ev:<hub id>        a hub's events, for phones subscribed on other nodes

Every new tunnel of a hub takes the next fencing number. A request carries the number it found
in the hub's presence key and the holder answers only for that tunnel, so a node that lost a
hub (it moved while this node was cut off) never answers for it. A call to a node that stops
heartbeating fails with 503 and the reason within NODE_TTL_S + a second, never a hang.

Why pub/sub and no Redis Streams: nothing on these channels has to outlive a node. Requests and
replies are in flight; when a node dies its callers get that 503, and a stream would instead
hand the hub a stale command later. What must survive a restart, the offline queue, is kept in
the store (PostgreSQL), and every node sweeps the queues of the hubs it holds every two seconds
(relay/queue_delivery.py), so a lost `kick` notice only delays a queued write, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relay import protocol as p
from relay.errors import HubBusy, HubOffline, HubTimeout, RelayError
from relay.routing import EventSubscription, HubLink, NodeInfo, Routing

_LOG = logging.getLogger(__name__)

PRESENCE_TTL_S = 15.0  # a hub's presence outlives its node by at most this
NODE_TTL_S = 3.0  # a node silent this long is gone: calls to it fail at once
HEARTBEAT_S = 1.0
REFRESH_BATCH = 1000
MAX_CONNECTIONS = 24  # per node, commands; pub/sub listeners take two more
HOLDER_CACHE_S = 2.0  # how long a node remembers where a hub is (a stale answer is retried)
CLOSE_MOVED = 4000
CLOSE_CLUSTER_LOST = 4004

# Fencing numbers never go backwards, even across a Redis restart (it keeps nothing): the next
# number is at least Redis's clock in microseconds.
_NEXT_FENCE = """
local function next_fence(fences, hub)
  local fence = redis.call('HINCRBY', fences, hub, 1)
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if fence < floor then
    fence = floor
    redis.call('HSET', fences, hub, string.format('%d', fence))
  end
  return fence
end
"""
# fence = next number; take the presence key; return (fence, previous holder)
_ATTACH = _NEXT_FENCE + """
local fence = next_fence(KEYS[2], ARGV[1])
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2] .. ' ' .. string.format('%d', fence), 'PX', ARGV[3])
return {fence, old}
"""
# Delete the presence key only if it is still ours.
_DETACH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# For each of our hubs: 1 refreshed, 0 missing (Redis lost it: re-taken with a new fence,
# returned as the 2nd list), -1 another node holds it now.
_REFRESH = _NEXT_FENCE + """
local out = {}
local fences = {}
for i, key in ipairs(KEYS) do
  if i > 1 then
    local mine = ARGV[2 * i - 2]
    local hub = ARGV[2 * i - 1]
    local cur = redis.call('GET', key)
    if cur == mine then
      redis.call('PEXPIRE', key, ARGV[1])
      out[#out + 1] = 1
      fences[#fences + 1] = 0
    elseif not cur then
      local fence = next_fence(KEYS[1], hub)
      local value = string.match(mine, '^%S+') .. ' ' .. string.format('%d', fence)
      redis.call('SET', key, value, 'PX', ARGV[1])
      out[#out + 1] = 0
      fences[#fences + 1] = fence
    else
      out[#out + 1] = -1
      fences[#fences + 1] = 0
    end
  end
end
return {out, fences}
"""

class _Moved(HubOffline):
    """The node asked does not hold that tunnel (any more)."""


class _Stale(Exception):
    """A remembered holder was wrong; look it up again."""


_ERRORS: dict[str, type[RelayError]] = {
    "_Moved": _Moved,
    "HubOffline": HubOffline,
    "HubBusy": HubBusy,
    "HubTimeout": HubTimeout,
}


class RedisRouting(Routing):
    """Presence, cross-node calls and event fan-out through one Redis."""

    def __init__(self, url: str, *, prefix: str = "homehub:relay:", node_id: str) -> None:
        self.url = url
        self.prefix = prefix
        self.node_id = node_id
        self.presence_ttl_s = PRESENCE_TTL_S
        self.node_ttl_s = NODE_TTL_S
        self._redis: aioredis.Redis | None = None
        self._links: dict[str, tuple[HubLink, int]] = {}
        self._subs: dict[str, set[EventSubscription]] = {}
        self._pending: dict[int, tuple[asyncio.Future[p.Response], str]] = {}
        self._ids = itertools.count(1)
        self._tasks: list[asyncio.Task[Any]] = []
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=100_000)
        self._sub_changes: asyncio.Queue[tuple[bool, str]] = asyncio.Queue()
        # Set when Redis confirmed the node's subscription to a hub's event channel.
        self._sub_ready: dict[str, asyncio.Event] = {}
        self._down_since: float | None = None
        self._lost = False
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()
        self._holders: dict[str, tuple[float, tuple[str, int]]] = {}

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ keys
    def _hub_key(self, hub_id: str) -> str:
        return f"{self.prefix}hub:{hub_id}"

    def _channel(self, node_id: str) -> str:
        return f"{self.prefix}ch:{node_id}"

    def _event_channel(self, hub_id: str) -> str:
        return f"{self.prefix}ev:{hub_id}"

    @property
    def redis(self) -> aioredis.Redis:
        """The client (after start)."""
        if self._redis is None:
            raise RuntimeError("RedisRouting.start() was not called")
        return self._redis

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect, announce this node and listen on its channel."""
        # A bounded pool: a reconnect storm of thousands of hubs must queue for connections,
        # not open thousands of them (Redis refuses clients beyond maxclients, for everyone).
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=MAX_CONNECTIONS,
            timeout=5.0,
            decode_responses=True,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=5,
        )
        self._redis = aioredis.Redis(connection_pool=pool)
        try:
            await self._redis.ping()
        except (RedisError, OSError) as err:
            await self._redis.aclose()
            self._redis = None
            raise HubOffline(
                f"cannot reach Redis at {self.url}: {err}; check --routing and that Redis runs"
            ) from err
        self._attach_script = self._redis.register_script(_ATTACH)
        self._detach_script = self._redis.register_script(_DETACH)
        self._refresh_script = self._redis.register_script(_REFRESH)
        await self._heartbeat_once()
        for name, coro in (
            ("node-channel", self._listen_node_channel()),
            ("events", self._listen_events()),
            ("outbox", self._send_outbox()),
            ("heartbeat", self._heartbeat_loop()),
            ("presence", self._refresh_loop()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"relay-redis-{name}"))

    async def stop(self) -> None:
        """Leave the cluster: drop presence of our hubs and this node's record."""
        self._closing = True
        # redis-py can swallow a cancellation inside a command; ask again until they end.
        for _ in range(20):
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.25)
        self._tasks.clear()
        for fut, _ in self._pending.values():
            if not fut.done():
                fut.set_exception(HubOffline("this relay node is stopping; retry"))
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(2.0):
                    for hub_id, (_, fence) in list(self._links.items()):
                        await self._detach_script(
                            keys=[self._hub_key(hub_id)], args=[f"{self.node_id} {fence}"]
                        )
                    await self.redis.delete(f"{self.prefix}node:{self.node_id}")
                    await self.redis.zrem(f"{self.prefix}nodes", self.node_id)
            await self._redis.aclose()
            self._redis = None

    def health(self) -> str | None:
        """Unhealthy while Redis does not answer."""
        if self._down_since is not None:
            return f"Redis does not answer (for {time.monotonic() - self._down_since:.0f} s)"
        return None

    # ------------------------------------------------------------------ presence
    async def attach(self, link: HubLink) -> HubLink | None:
        """Take the hub's presence with a new fencing number; evict an older tunnel anywhere."""
        if self._lost or self._down_since is not None:
            raise HubOffline("this relay node lost its link to Redis; connect to another node")
        try:
            fence, old = await self._attach_script(
                keys=[self._hub_key(link.hub_id), f"{self.prefix}fences"],
                args=[link.hub_id, self.node_id, int(self.presence_ttl_s * 1000)],
            )
        except (RedisError, OSError) as err:
            raise HubOffline(f"cannot record the hub's presence in Redis: {err}") from err
        previous = self._links.get(link.hub_id)
        self._links[link.hub_id] = (link, int(fence))
        if old:
            holder = str(old).split(" ")[0]
            if holder != self.node_id:
                self._post(holder, {"k": "evict", "hub": link.hub_id, "fence": str(old)})
        if previous is not None and previous[0] is not link:
            return previous[0]
        return None

    async def detach(self, link: HubLink) -> None:
        """Give up presence if this tunnel still holds it."""
        current = self._links.get(link.hub_id)
        if current is None or current[0] is not link:
            return
        del self._links[link.hub_id]
        with contextlib.suppress(RedisError, OSError):
            await self._detach_script(
                keys=[self._hub_key(link.hub_id)], args=[f"{self.node_id} {current[1]}"]
            )

    def is_local(self, hub_id: str) -> bool:
        """Does this node hold the hub's tunnel?"""
        return hub_id in self._links

    async def _holder(self, hub_id: str, fresh: bool = False) -> tuple[str, int] | None:
        now = time.monotonic()
        cached = self._holders.get(hub_id)
        if cached is not None and not fresh and cached[0] > now:
            return cached[1]
        try:
            raw = await self.redis.get(self._hub_key(hub_id))
        except (RedisError, OSError) as err:
            raise HubOffline(f"the relay cannot reach Redis ({err}); retry shortly") from err
        if raw is None:
            self._holders.pop(hub_id, None)
            return None
        node, fence = str(raw).split(" ")
        if len(self._holders) > 100_000:
            self._holders.clear()
        self._holders[hub_id] = (now + HOLDER_CACHE_S, (node, int(fence)))
        return node, int(fence)

    async def is_online(self, hub_id: str) -> bool:
        """Is a tunnel for this hub attached anywhere in the cluster?"""
        if hub_id in self._links:
            return True
        try:
            return await self._holder(hub_id, fresh=True) is not None
        except HubOffline:
            return False

    async def nodes(self) -> list[NodeInfo]:
        """Nodes that heartbeated within NODE_TTL_S, as they described themselves."""
        now_ms = int(time.time() * 1000)
        ids = await self.redis.zrangebyscore(
            f"{self.prefix}nodes", now_ms - int(self.node_ttl_s * 1000), "+inf"
        )
        if not ids:
            return []
        raws = await self.redis.mget([f"{self.prefix}node:{i!s}" for i in ids])
        out = []
        for raw in raws:
            if raw is None:
                continue
            d = json.loads(raw)
            out.append(
                NodeInfo(
                    d["node_id"], d["url"], int(d["tunnels"]), int(d["capacity"]),
                    bool(d["draining"]), bool(d["healthy"]),
                )
            )
        return out

    async def _heartbeat_once(self) -> None:
        info = self._describe() if self._describe is not None else None
        doc = (info or NodeInfo(self.node_id, "", len(self._links), 0)).to_dict()
        doc["node_id"] = self.node_id
        doc["healthy"] = doc["healthy"] and self._down_since is None
        now_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                f"{self.prefix}node:{self.node_id}", json.dumps(doc),
                px=int(self.node_ttl_s * 1000),
            )
            pipe.zadd(f"{self.prefix}nodes", {self.node_id: now_ms})
            pipe.zremrangebyscore(f"{self.prefix}nodes", 0, now_ms - 60_000)
            await pipe.execute()

    async def _heartbeat_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                async with asyncio.timeout(2.0):
                    await self._heartbeat_once()
            except (RedisError, OSError, TimeoutError) as err:
                self._link_down(err)
            else:
                await self._link_up()
            self._fail_calls_to_dead_nodes_soon()

    def _link_down(self, err: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            # A timeout's text is empty: name its type so the log says what happened.
            _LOG.warning("Redis does not answer (%s); this node reports unhealthy",
                         str(err) or type(err).__name__)
            self._down_since = now
        if not self._lost and now - self._down_since > self.presence_ttl_s:
            # Our presence keys have expired: other nodes may take our hubs. Let them go.
            self._lost = True
            _LOG.warning("Redis gone for %.0f s: closing %d tunnels", now - self._down_since,
                         len(self._links))
            for link, _ in list(self._links.values()):
                self._spawn(
                    link.close(CLOSE_CLUSTER_LOST, "relay node lost its cluster link; reconnect")
                )

    async def _link_up(self) -> None:
        if self._down_since is None:
            return
        _LOG.info("Redis answers again; rebuilding presence of %d hubs", len(self._links))
        self._down_since = None
        self._lost = False
        await self._refresh_presence()

    async def _refresh_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.presence_ttl_s / 3)
            if self._down_since is not None:
                continue
            try:
                await self._refresh_presence()
            except (RedisError, OSError) as err:
                self._link_down(err)

    async def _refresh_presence(self) -> None:
        """Extend our keys; re-take lost ones (new fence); let go of hubs another node took."""
        items = list(self._links.items())
        ttl_ms = int(self.presence_ttl_s * 1000)
        for start in range(0, len(items), REFRESH_BATCH):
            batch = items[start : start + REFRESH_BATCH]
            keys = [f"{self.prefix}fences"] + [self._hub_key(h) for h, _ in batch]
            args: list[Any] = [ttl_ms]
            for hub_id, (_, fence) in batch:
                args += [f"{self.node_id} {fence}", hub_id]
            states, fences = await self._refresh_script(keys=keys, args=args)
            for (hub_id, (link, _)), state, fence in zip(batch, states, fences, strict=True):
                if self._links.get(hub_id, (None,))[0] is not link:
                    continue
                if state == 0:
                    self._links[hub_id] = (link, int(fence))
                elif state == -1:
                    del self._links[hub_id]
                    self._spawn(
                        link.close(CLOSE_MOVED, "this hub is connected to another relay node")
                    )

    # ------------------------------------------------------------------ calls
    async def call(self, hub_id: str, request: p.Request, timeout: float) -> p.Response:
        """Through the local tunnel, or through the holding node's channel."""
        local = self._links.get(hub_id)
        if local is not None:
            return await local[0].call(request, timeout)
        try:
            return await self._call_remote(hub_id, request, timeout, fresh=False)
        except _Stale:
            # Our remembered holder was out of date: ask Redis once more.
            return await self._call_remote(hub_id, request, timeout, fresh=True)

    async def _call_remote(
        self, hub_id: str, request: p.Request, timeout: float, fresh: bool
    ) -> p.Response:
        holder = await self._holder(hub_id, fresh)
        if holder is None:
            raise HubOffline("the hub is offline; its last known state is under /shadows")
        node, fence = holder
        rid = next(self._ids)
        fut: asyncio.Future[p.Response] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (fut, node)
        try:
            message = {
                "k": "req", "id": rid, "from": self.node_id, "hub": hub_id, "fence": fence,
                "timeout": timeout, "req": p.encode(request),
            }
            try:
                receivers = await self.redis.publish(self._channel(node), json.dumps(message))
            except (RedisError, OSError) as err:
                raise HubOffline(f"the relay cannot reach Redis ({err}); retry") from err
            if receivers == 0:
                if not fresh:
                    raise _Stale()
                raise HubOffline(
                    f"relay node {node} holding this hub is gone; the hub reconnects to another "
                    "node within seconds, retry then"
                )
            try:
                async with asyncio.timeout(timeout + 1.0):
                    return await fut
            except _Moved:
                self._holders.pop(hub_id, None)
                if not fresh:
                    raise _Stale() from None
                raise HubOffline("the hub is moving between relay nodes; retry") from None
            except TimeoutError:
                raise HubTimeout(
                    f"no answer within {timeout:g} s from relay node {node}, which holds the hub"
                ) from None
        finally:
            self._pending.pop(rid, None)

    def _fail_calls_to_dead_nodes_soon(self) -> None:
        nodes = {node for _, node in self._pending.values()}
        if nodes:
            self._spawn(self._fail_calls_to_dead_nodes(nodes))

    async def _fail_calls_to_dead_nodes(self, nodes: set[str]) -> None:
        with contextlib.suppress(RedisError, OSError):
            keys = [f"{self.prefix}node:{n}" for n in sorted(nodes)]
            alive = await self.redis.mget(keys)
            dead = {n for n, a in zip(sorted(nodes), alive, strict=True) if a is None}
            for fut, node in list(self._pending.values()):
                if node in dead and not fut.done():
                    fut.set_exception(
                        HubOffline(
                            f"relay node {node} holding this hub stopped answering; the hub "
                            "reconnects to another node within seconds, retry then"
                        )
                    )

    async def _serve_request(self, message: Mapping[str, Any]) -> None:
        reply: dict[str, Any] = {"k": "res", "id": message["id"]}
        local = self._links.get(str(message["hub"]))
        try:
            if local is None or local[1] != int(message["fence"]):
                raise _Moved("the hub just moved to another relay node; retry")
            request = p.decode(str(message["req"]), p.MAX_FRAME_BYTES)
            if not isinstance(request, p.Request):
                raise HubOffline("bad cross-node request")
            response = await local[0].call(request, float(message["timeout"]))
            reply["res"] = p.encode(response)
        except RelayError as err:
            reply.update(k="err", cls=type(err).__name__, status=err.status, msg=err.message)
        except p.ProtocolError as err:
            reply.update(k="err", cls="RelayError", status=502, msg=str(err))
        self._post(str(message["from"]), reply)

    def _answer(self, message: Mapping[str, Any]) -> None:
        entry = self._pending.get(int(message["id"]))
        if entry is None or entry[0].done():
            return
        fut = entry[0]
        if message["k"] == "res":
            response = p.decode(str(message["res"]), p.MAX_FRAME_BYTES)
            if isinstance(response, p.Response):
                fut.set_result(response)
            return
        cls = _ERRORS.get(str(message.get("cls")))
        if cls is None:
            err = RelayError(str(message.get("msg")))
            err.status = int(message.get("status", 502))
            fut.set_exception(err)
        else:
            fut.set_exception(cls(str(message.get("msg"))))

    async def notify(self, hub_id: str, notice: str) -> None:
        """Pass a notice to the node holding the hub (this one: straight to the handler)."""
        if hub_id in self._links:
            self._deliver_notice(notice, hub_id)
            return
        with contextlib.suppress(HubOffline):
            holder = await self._holder(hub_id)
            if holder is not None:
                self._post(holder[0], {"k": "notice", "hub": hub_id, "notice": notice})

    def _on_node_message(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            kind = message["k"]
        except (ValueError, KeyError, TypeError):
            _LOG.warning("ignored a malformed message on this node's channel")
            return
        if kind == "req":
            self._spawn(self._serve_request(message))
        elif kind in ("res", "err"):
            self._answer(message)
        elif kind == "notice":
            if str(message["hub"]) in self._links:
                self._deliver_notice(str(message["notice"]), str(message["hub"]))
        elif kind == "evict":
            hub_id = str(message["hub"])
            local = self._links.get(hub_id)
            if local is not None and f"{self.node_id} {local[1]}" == message["fence"]:
                del self._links[hub_id]
                self._spawn(
                    local[0].close(CLOSE_MOVED, "replaced by a newer connection of the same hub")
                )

    async def _listen_node_channel(self) -> None:
        while not self._closing:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel(self.node_id))
                async for msg in pubsub.listen():
                    if msg and msg.get("type") == "message":
                        self._on_node_message(msg["data"])
            except (RedisError, OSError) as err:
                self._link_down(err)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    # ------------------------------------------------------------------ events
    def _post(self, node_id: str, message: Mapping[str, Any]) -> None:
        self._put_outbox(self._channel(node_id), json.dumps(message))

    def _put_outbox(self, channel: str, data: str) -> None:
        try:
            self._outbox.put_nowait((channel, data))
        except asyncio.QueueFull:
            _LOG.warning("cross-node outbox full; dropped a message for %s", channel)

    async def _send_outbox(self) -> None:
        # One sender keeps each hub's events in order.
        while not self._closing:
            channel, data = await self._outbox.get()
            try:
                await self.redis.publish(channel, data)
            except (RedisError, OSError) as err:
                self._link_down(err)

    def publish(self, hub_id: str, event: Mapping[str, Any]) -> None:
        """To local subscribers now, and to other nodes' subscribers through Redis."""
        for sub in tuple(self._subs.get(hub_id, ())):
            sub.offer(event)
        self._put_outbox(
            self._event_channel(hub_id), json.dumps({"from": self.node_id, "event": event})
        )

    def subscribe(self, hub_id: str, maxsize: int = 500) -> EventSubscription:
        """A new subscription; the first one for a hub subscribes this node to its channel."""
        sub = EventSubscription(self, hub_id, maxsize)
        subs = self._subs.setdefault(hub_id, set())
        if not subs:
            self._sub_ready[hub_id] = asyncio.Event()
            self._sub_changes.put_nowait((True, hub_id))
        subs.add(sub)
        return sub

    async def subscribed(self, sub: EventSubscription, timeout: float) -> bool:
        """Wait for Redis to confirm this node's subscription to the hub's events."""
        ready = self._sub_ready.get(sub.hub_id)
        if ready is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                await ready.wait()
        except TimeoutError:
            return False
        return True

    def unsubscribe(self, sub: EventSubscription) -> None:
        """Remove a subscription; the last one for a hub unsubscribes its channel."""
        subs = self._subs.get(sub.hub_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.hub_id]
                self._sub_ready.pop(sub.hub_id, None)
                self._sub_changes.put_nowait((False, sub.hub_id))

    async def _listen_events(self) -> None:
        prefix = self._event_channel("")
        while not self._closing:
            # Subscribe confirmations are read: they say when a phone's events are flowing.
            pubsub = self.redis.pubsub()
            for ready in self._sub_ready.values():
                ready.clear()  # a new connection: nothing is confirmed on it yet
            try:
                # Always subscribed to something, so get_message waits instead of returning.
                await pubsub.subscribe(f"{self.prefix}evnode:{self.node_id}")
                if self._subs:
                    await pubsub.subscribe(*(self._event_channel(h) for h in self._subs))
                while not self._closing:
                    while not self._sub_changes.empty():
                        add, hub_id = self._sub_changes.get_nowait()
                        if add:
                            await pubsub.subscribe(self._event_channel(hub_id))
                        elif hub_id not in self._subs:
                            await pubsub.unsubscribe(self._event_channel(hub_id))
                    msg = await pubsub.get_message(timeout=0.05)
                    if not msg:
                        continue
                    hub_id = str(msg["channel"])[len(prefix) :]
                    if msg.get("type") == "subscribe":
                        confirmed = self._sub_ready.get(hub_id)
                        if confirmed is not None:
                            confirmed.set()
                        continue
                    if msg.get("type") != "message":
                        continue
                    body = json.loads(msg["data"])
                    if body.get("from") == self.node_id:
                        continue  # delivered locally already
                    for sub in tuple(self._subs.get(hub_id, ())):
                        sub.offer(body["event"])
            except (RedisError, OSError) as err:
                self._link_down(err)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def local_links(self) -> list[HubLink]:
        """The tunnels this node holds."""
        return [link for link, _ in self._links.values()]

    @property
    def online_count(self) -> int:
        """How many hubs this node holds."""
        return len(self._links)
