"""ECHONET Lite request/response protocol for a controller.

Matches answers to requests by TID (and sender), retries a bounded number of times, keeps one
request in flight per node (real units are slow and some drop overlapping requests), answers
INFC with INFC_Res, and hands notifications (INF, INFC) to a callback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from integrations.echonet.frame import (
    ANSWERS,
    CONTROLLER,
    NODE_PROFILE,
    Eoj,
    Esv,
    Frame,
    FrameError,
    Property,
)
from integrations.echonet.selfnode import SelfNode
from integrations.echonet.transport import PORT, EchonetTransport, FrameLink, LinkFactory
from integrations.errors import DeviceUnreachable

_LOGGER = logging.getLogger(__name__)

INSTANCE_LIST_S = 0xD6  # node profile: self-node instance list
INSTANCE_LIST_NOTIFICATION = 0xD5  # node profile: instance list announced at start-up

NotifyHandler = Callable[[Frame, str], None]


@dataclass
class _Pending:
    host: str | None  # None: multicast, any sender may answer
    request: Frame
    future: asyncio.Future[Frame] = field(repr=False)
    collected: list[tuple[str, Frame]] | None = None  # multicast: every answer


def parse_instance_list(edt: bytes) -> list[Eoj]:
    """EDT of 0xD5/0xD6: count N then N EOJs. Raises FrameError when lengths disagree."""
    if not edt:
        raise FrameError("instance list is empty; it starts with the number of instances")
    count = edt[0]
    body = edt[1:]
    if len(body) != 3 * count:
        raise FrameError(f"instance list says {count} objects but carries {len(body)} bytes")
    return [Eoj.parse(body[i:i + 3]) for i in range(0, len(body), 3)]


class EchonetClient:
    """The controller end: request/response over an EchonetTransport (or another FrameLink:
    `link` builds one around the client's frame handler, e.g. a Wi-SUN B-route dongle)."""

    def __init__(
        self,
        *,
        bind: str = "0.0.0.0",
        port: int = PORT,
        multicast: bool = False,
        timeout_s: float = 3.0,
        retries: int = 2,
        on_notify: NotifyHandler | None = None,
        seoj: Eoj = CONTROLLER,
        node_id: bytes | None = None,
        link: LinkFactory | None = None,
    ) -> None:
        self.transport: FrameLink = (
            link(self._on_frame) if link is not None else EchonetTransport(
                self._on_frame, bind=bind, port=port, multicast=multicast,
                name="echonet controller",
            )
        )
        self.timeout_s = timeout_s
        self.retries = retries
        self.seoj = seoj
        self.on_notify = on_notify
        self.node = SelfNode(node_id, seoj)
        self._pending: dict[int, _Pending] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tids = itertools.cycle(range(1, 0x10000))

    async def start(self) -> None:
        """Open the sockets."""
        await self.transport.start()

    async def close(self) -> None:
        """Fail pending requests and close the sockets."""
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        await self.transport.close()

    def _next_tid(self) -> int:
        for _ in range(0x10000):
            tid = next(self._tids)
            if tid not in self._pending:
                return tid
        raise DeviceUnreachable("65535 requests are waiting for answers; the network is stuck")

    async def request(
        self,
        host: str,
        deoj: Eoj,
        esv: Esv,
        props: Sequence[Property],
        get_props: Sequence[Property] | None = None,
        *,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> Frame | None:
        """Send a request to one node and return its answer (None for a successful SetI).

        Raises DeviceUnreachable when the node does not answer after the retries.
        """
        try:
            ipaddress.ip_address(host)
        except ValueError:  # a name would be resolved by a blocking sendto(), and answers
            raise DeviceUnreachable(  # come from the IP, never matching the name
                f"ECHONET host {host!r} is not an IP address; resolve it first"
            ) from None
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:  # one request in flight per node
            return await self._exchange(
                host, deoj, esv, props, get_props,
                self.timeout_s if timeout_s is None else timeout_s,
                self.retries if retries is None else retries,
            )

    async def _exchange(
        self,
        host: str,
        deoj: Eoj,
        esv: Esv,
        props: Sequence[Property],
        get_props: Sequence[Property] | None,
        timeout_s: float,
        retries: int,
    ) -> Frame | None:
        tid = self._next_tid()
        frame = Frame(tid, self.seoj, deoj, esv, tuple(props),
                      tuple(get_props) if get_props is not None else None)
        loop = asyncio.get_running_loop()
        pending = _Pending(host, frame, loop.create_future())
        self._pending[tid] = pending
        try:
            for _attempt in range(retries + 1):
                self.transport.send(frame, host)
                if esv is Esv.SETI:
                    # Success is silence; a refusal (SetI_SNA) comes back like any answer.
                    try:
                        async with asyncio.timeout(0.05):
                            return await asyncio.shield(pending.future)
                    except TimeoutError:
                        return None
                try:
                    async with asyncio.timeout(timeout_s):
                        return await asyncio.shield(pending.future)
                except TimeoutError:
                    continue
            raise DeviceUnreachable(
                f"ECHONET node {host} did not answer {esv.name} to {deoj} "
                f"({retries + 1} tries, {timeout_s:g} s each); check that it is powered and on "
                "the same network"
            )
        finally:
            self._pending.pop(tid, None)

    async def multicast(
        self, deoj: Eoj, esv: Esv, props: Sequence[Property], wait_s: float
    ) -> list[tuple[str, Frame]]:
        """Send a request to 224.0.23.0 and collect every answer for `wait_s` seconds."""
        tid = self._next_tid()
        frame = Frame(tid, self.seoj, deoj, esv, tuple(props))
        loop = asyncio.get_running_loop()
        pending = _Pending(None, frame, loop.create_future(), collected=[])
        self._pending[tid] = pending
        try:
            self.transport.send_multicast(frame)
            await asyncio.sleep(wait_s)  # answers trickle in from an unknown number of nodes
            return list(pending.collected or [])
        finally:
            self._pending.pop(tid, None)

    async def discover_multicast(self, wait_s: float = 1.0) -> dict[str, list[Eoj]]:
        """Multicast Get 0xD6 to every node profile; host -> its objects."""
        answers = await self.multicast(
            NODE_PROFILE, Esv.GET, [Property(INSTANCE_LIST_S)], wait_s
        )
        found: dict[str, list[Eoj]] = {}
        for host, frame in answers:
            edt = frame.edt(INSTANCE_LIST_S)
            if edt:
                try:
                    found[host] = parse_instance_list(edt)
                except FrameError as err:
                    self.transport.log_once(host, f"bad instance list from {host}: {err}")
        return found

    def _on_frame(self, frame: Frame, host: str) -> None:
        pending = self._pending.get(frame.tid)
        if frame.esv.is_request:
            if pending is None or pending.request != frame:  # not our own multicast looping back
                for answer in self.node.answer(frame):
                    self.transport.send(answer, host)
            return
        if pending is not None and self._answers(pending, frame, host):
            if pending.collected is not None:
                pending.collected.append((host, frame))
            elif not pending.future.done():
                pending.future.set_result(frame)
            return
        if frame.esv is Esv.INFC:
            ack = tuple(Property(p.epc) for p in frame.props)
            self.transport.send(Frame(frame.tid, self.seoj, frame.seoj, Esv.INFC_RES, ack), host)
        if frame.esv in (Esv.INF, Esv.INFC) and self.on_notify is not None:
            self.on_notify(frame, host)

    @staticmethod
    def _answers(pending: _Pending, frame: Frame, host: str) -> bool:
        if pending.host is not None and pending.host != host:
            return False
        if frame.esv not in ANSWERS.get(pending.request.esv, ()):
            return False
        deoj = pending.request.deoj
        if deoj.instance == 0:
            return frame.seoj.class_code == deoj.class_code
        return frame.seoj == deoj
