"""One connection to the MQTT broker (aiomqtt): connect, subscribe, route, reconnect.

`MqttLink` keeps the set of topic filters it was asked for and subscribes to all of them on every
connection, so a broker restart costs a reconnect (exponential backoff with full jitter) and
nothing else. Messages go to the handlers of every matching filter, one at a time in arrival
order; a handler must not wait for another message (spawn a task for request/response).
Oversized and malformed payloads are logged once per topic and dropped.

    link = MqttLink(settings, name="devices", max_payload_bytes=256 * 1024)
    await link.subscribe("zigbee2mqtt/#", on_z2m)
    await link.start()
    await link.publish("zigbee2mqtt/lamp/set", b'{"state":"ON"}')
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import secrets
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

from integrations.mqtt.config import BrokerSettings
from integrations.mqtt.errors import BrokerUnavailable, PayloadError
from integrations.mqtt.topics import Router

_LOG = logging.getLogger(__name__)


async def cancel_to_end(task: asyncio.Task[Any], tries: int = 15) -> bool:
    """Cancel a task that talks through aiomqtt, again each second until it ends (up to
    `tries` times); whether it ended. aiomqtt waits for the broker's answers (CONNACK, SUBACK,
    PUBACK) with asyncio.wait_for, which on Python 3.11 swallows a cancel that lands as the
    answer arrives: the task went on, and a stop that awaited it waited forever."""
    for _ in range(tries):
        if task.done():
            return True
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    return task.done()


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as handlers see it."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0


Handler = Callable[[Inbound], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


class LinkState(enum.Enum):
    """Where the link is."""

    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # dialling, authenticating, subscribing
    CONNECTED = "connected"  # subscribed; messages flow
    WAITING = "waiting"  # backing off before the next attempt
    CLOSED = "closed"  # close() was called


class Backoff:
    """Delay before each attempt: full jitter, uniform in [0, min(cap, base * 2**failures)]."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.failures = 0

    def next_delay(self) -> float:
        """Seconds to wait now; grows with each failure until a connection succeeds."""
        if self.failures == 0:
            return 0.0
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        return random.uniform(self.base_s / 10, ceiling)


@dataclass(slots=True)
class _Route:
    handler: Handler
    max_bytes: int | None


def explain(err: BaseException, settings: BrokerSettings) -> str:
    """A connection failure in words a person can act on."""
    text = str(err)
    rc = getattr(err, "rc", None)
    rc_value = getattr(rc, "value", rc)
    where = settings.describe()
    if rc_value in (4, 5, 134, 135) or "not authori" in text.lower() or "bad user" in text.lower():
        return (f"the broker at {where} refused the login ({text}); check username and "
                "password in [integrations.mqtt]")
    if "certificate" in text.lower() or "ssl" in text.lower() or "tls" in text.lower():
        return (f"TLS with {where} failed ({text}); set ca_file to the broker's CA, or "
                "tls_insecure = true for a self-signed certificate with another host name")
    if "refused" in text.lower() or "errno" in text.lower() or "timed out" in text.lower():
        return f"cannot reach the MQTT broker at {where} ({text}); is it running?"
    return f"MQTT connection to {where} failed: {text}"


class MqttLink:
    """A self-healing broker connection with routed subscriptions."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        name: str,
        max_payload_bytes: int = 256 * 1024,
        will: aiomqtt.Will | None = None,
        on_connected: Hook | None = None,
        on_disconnected: Hook | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.max_payload_bytes = max_payload_bytes
        self.client_id = settings.client_id or f"homehub-{name}-{secrets.token_hex(4)}"
        self._will = will
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.backoff = backoff or Backoff()
        self.state = LinkState.IDLE
        self.last_error = ""
        self.connections = 0
        self._router: Router[_Route] = Router()
        self._qos: dict[str, int] = {}
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._warned: set[tuple[str, str]] = set()
        self._tls: ssl.SSLContext | None = None

    # ----------------------------------------------------------------- public
    @property
    def connected(self) -> bool:
        """Subscribed and receiving now."""
        return self.state is LinkState.CONNECTED

    async def start(self) -> None:
        """Start connecting in the background (returns at once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.name}")

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected (True) or the timeout passes (False)."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Disconnect (the will is not sent: this is an orderly stop) and stop reconnecting."""
        self.state = LinkState.CLOSED
        task, self._task = self._task, None
        if task is not None and not await cancel_to_end(task):
            _LOG.error("MQTT %s: the connection task did not stop; left behind", self.name)
        elif task is not None and not task.cancelled() and task.exception() is not None:
            _LOG.error("MQTT %s: the connection task failed", self.name, exc_info=task.exception())
        self._connected.clear()

    async def drop(self) -> None:
        """Cut the TCP connection without a DISCONNECT packet and stop, as a device losing
        power does: the broker then publishes the will (emulators and tests use this)."""
        client = self._client
        if client is not None:
            sock = client._client.socket()  # paho's socket; aiomqtt offers no abrupt close
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        await self.close()

    async def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1,
                        max_bytes: int | None = None) -> None:
        """Route a filter to a handler; subscribed now if connected, and on every reconnect."""
        new = topic_filter not in self._qos
        self._router.add(topic_filter, _Route(handler, max_bytes))
        self._qos[topic_filter] = max(qos, self._qos.get(topic_filter, 0))
        client = self._client
        if new and client is not None and self.connected:
            try:
                await client.subscribe(topic_filter, qos=qos)
            except aiomqtt.MqttError as err:  # the reconnect will subscribe it
                _LOG.info("MQTT %s: subscribing %s failed (%s); retried on reconnect",
                          self.name, topic_filter, err)

    async def unsubscribe(self, topic_filter: str, handler: Handler | None = None) -> None:
        """Stop routing a filter (to one handler, or at all)."""
        gone = False
        for route in self._router.get(topic_filter):
            if handler is None or route.handler == handler:
                gone = self._router.remove(topic_filter, route)
        if gone:
            self._qos.pop(topic_filter, None)
            client = self._client
            if client is not None and self.connected:
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.unsubscribe(topic_filter)

    async def publish(self, topic: str, payload: bytes | str, *, qos: int = 1,
                      retain: bool = False) -> None:
        """Publish; with QoS 1 this returns once the broker has acknowledged it."""
        client = self._client
        if client is None or not self.connected:
            raise BrokerUnavailable(
                f"not connected to the MQTT broker at {self.settings.describe()}"
                + (f": {self.last_error}" if self.last_error else "")
            )
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as err:
            raise BrokerUnavailable(f"publishing to {topic} failed: {err}") from err

    # ----------------------------------------------------------------- connection
    async def _tls_context(self) -> ssl.SSLContext | None:
        if not self.settings.tls:
            return None
        if self._tls is None:
            # Reading CA and key files blocks: do it once, off the event loop.
            self._tls = await asyncio.get_running_loop().run_in_executor(None, self._make_tls)
        return self._tls

    def _make_tls(self) -> ssl.SSLContext:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file)
        if s.cert_file and s.key_file:
            context.load_cert_chain(s.cert_file, s.key_file)
        if s.tls_insecure:
            context.check_hostname = False
        return context

    def _client_for(self, tls: ssl.SSLContext | None) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            identifier=self.client_id,
            will=self._will,
            clean_session=True,
            keepalive=s.keepalive_s,
            timeout=10.0,
            tls_context=tls,
            logger=logging.getLogger("integrations.mqtt.paho"),
        )

    async def _run(self) -> None:
        while self.state is not LinkState.CLOSED:
            delay = self.backoff.next_delay()
            if delay:
                self.state = LinkState.WAITING
                await asyncio.sleep(delay)
            self.state = LinkState.CONNECTING
            try:
                tls = await self._tls_context()
                client = self._client_for(tls)
                async with client:
                    await self._session(client)
            except asyncio.CancelledError:
                self.state = LinkState.CLOSED  # cancelled from outside: no hooks, no retry
                raise
            except (aiomqtt.MqttError, OSError, ValueError) as err:
                message = explain(err, self.settings)
                if message != self.last_error:
                    _LOG.warning("MQTT %s: %s; retrying with backoff", self.name, message)
                self.last_error = message
            finally:
                was_connected = self._connected.is_set()
                self._client = None
                self._connected.clear()
                closing = self.state is LinkState.CLOSED
                if not closing:
                    self.state = LinkState.WAITING
                    if was_connected and self._on_disconnected is not None:
                        await self._hook(self._on_disconnected)
            self.backoff.failures += 1

    async def _session(self, client: aiomqtt.Client) -> None:
        filters = list(self._qos.items())
        if filters:
            await client.subscribe(filters)
        if self.state is LinkState.CLOSED:
            raise asyncio.CancelledError  # close() came while connecting, and its cancel was lost
        self._client = client
        self.state = LinkState.CONNECTED
        self.connections += 1
        self.backoff.failures = 0
        if self.last_error:
            _LOG.info("MQTT %s: connected to %s again", self.name, self.settings.describe())
        self.last_error = ""
        self._connected.set()
        if self._on_connected is not None:
            await self._hook(self._on_connected)
        async for message in client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                payload = str(payload if payload is not None else "").encode()
            await self.dispatch(Inbound(str(message.topic), bytes(payload),
                                        bool(message.retain), int(message.qos)))

    async def _hook(self, hook: Hook) -> None:
        try:
            await hook()
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOG.exception("MQTT %s: connection hook failed", self.name)

    # ----------------------------------------------------------------- routing
    async def dispatch(self, message: Inbound) -> None:
        """Hand a message to every matching handler; a bad one is logged, never raised."""
        for topic_filter, route in list(self._router.match(message.topic)):
            limit = route.max_bytes or self.max_payload_bytes
            if len(message.payload) > limit:
                self.warn_once(message.topic, "size",
                               f"MQTT {self.name}: dropped a {len(message.payload)}-byte message "
                               f"on {message.topic}: larger than the {limit}-byte limit "
                               "(max_payload_bytes in [integrations.mqtt])")
                continue
            try:
                await route.handler(message)
            except PayloadError as err:
                self.warn_once(message.topic, str(err),
                               f"MQTT {self.name}: ignored a message on {message.topic}: {err}")
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOG.exception("MQTT %s: handler for %s failed on %s", self.name,
                               topic_filter, message.topic)

    def warn_once(self, topic: str, kind: str, text: str) -> None:
        """The first problem of a kind on a topic is a warning; repeats are debug lines (a device
        that sends the same junk every few seconds must not flood the log)."""
        key = (topic, kind)
        if key in self._warned:
            _LOG.debug(text)
            return
        if len(self._warned) > 10_000:  # a flood of random topics must not grow this forever
            self._warned.clear()
        self._warned.add(key)
        _LOG.warning(text)
