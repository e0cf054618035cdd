"""The B-route session: a dongle joined to the meter's PAN, carrying ECHONET Lite frames.

A `BrouteSession` is an ECHONET `FrameLink` (integrations.echonet.transport), so the ECHONET
controller (`EchonetClient`) runs over it unchanged: `send(frame, meter_address)` becomes
SKSENDTO to UDP 3610, and ERXUDP on 3610 comes back as frames. The session owns the lifecycle:

    NO_DONGLE -> STARTING -> SCANNING -> JOINING -> JOINED
                                  |          |         | EVENT 29 (lifetime over): JOINING again
                              NO_METER  AUTH_FAILED    | port gone (unplugged): NO_DONGLE

and retries from wherever it stopped: the port every `retry_min_s`..`retry_max_s` (doubling),
a refused ID/password every `auth_retry_s` (a meter must not be hammered with bad logins).
A known PAN (channel, PAN ID, meter MAC) skips the scan; if joining it fails, one fresh scan
decides whether the PAN moved or the credentials are wrong.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from integrations.broute import skstack as sk
from integrations.broute.credentials import Credentials
from integrations.broute.dongle import (
    BAUDRATE,
    AuthenticationFailed,
    Dongle,
    DongleError,
    DongleUnavailable,
)
from integrations.echonet.frame import Frame, FrameError, decode, encode
from integrations.echonet.transport import FrameHandler, TransportStats
from integrations.errors import DeviceUnreachable

_LOGGER = logging.getLogger(__name__)
_MAX_LOGGED = 64


class SessionState(enum.Enum):
    """Where the session is."""

    STOPPED = "stopped"  # not started, or closed
    NO_DONGLE = "no_dongle"  # the port cannot be opened, or it went away
    STARTING = "starting"  # resetting the dongle and giving it the ID and password
    SCANNING = "scanning"  # an active scan for the meter's PAN
    JOINING = "joining"  # PANA authentication with the meter
    JOINED = "joined"  # frames reach the meter
    AUTH_FAILED = "auth_failed"  # the meter refused the ID/password
    NO_METER = "no_meter"  # no PAN answered the scans
    ERROR = "error"  # the dongle refused a command or stopped answering; retrying


class MeterNotFound(DeviceUnreachable):
    """No smart meter answered the active scans."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How to reach the dongle and how patiently to retry."""

    port: str
    baudrate: int = BAUDRATE
    scan_durations: tuple[int, ...] = (4, 5, 6, 6)
    join_timeout_s: float = 30.0
    retry_min_s: float = 1.0
    retry_max_s: float = 60.0
    auth_retry_s: float = 600.0


StateListener = Callable[["SessionState", str], None]


class BrouteSession:
    """One dongle and the meter it joins; see the module docstring."""

    name = "b-route"
    multicast_ok = False

    def __init__(
        self,
        config: SessionConfig,
        credentials: Credentials,
        on_frame: FrameHandler,
        *,
        pan: sk.PanDescription | None = None,
        on_pan: Callable[[sk.PanDescription | None], None] | None = None,
        on_state: StateListener | None = None,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self.on_frame = on_frame
        self.on_pan = on_pan
        self.on_state = on_state
        self.pan = pan
        self.stats = TransportStats()
        self.state = SessionState.STOPPED
        self.reason = "not started"
        self.version = ""
        self.joined_at: float | None = None
        self.joins = 0
        self._dongle: Dongle | None = None
        self._trouble: asyncio.Queue[str] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logged: set[tuple[str, str]] = set()

    @property
    def meter_address(self) -> str | None:
        """The meter's IPv6 link-local address, once its PAN is known."""
        return sk.link_local(self.pan.addr) if self.pan is not None else None

    # --- FrameLink ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (the hub does not wait for a meter)."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="broute-session")

    async def close(self) -> None:
        """Stop retrying and release the port."""
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runner = None
        await self._close_dongle()
        self._set(SessionState.STOPPED, "stopped")

    def send(self, frame: Frame, host: str) -> None:
        """SKSENDTO the frame to the meter; DeviceUnreachable when there is no session."""
        dongle = self._dongle
        if self.state is not SessionState.JOINED or dongle is None:
            raise DeviceUnreachable(f"the smart meter cannot be reached now: {self.reason}")
        self.stats.sent += 1
        self._spawn(self._send(dongle, encode(frame), host))

    def send_multicast(self, frame: Frame) -> None:
        """Over the B-route the only node is the meter."""
        if self.meter_address is not None:
            self.send(frame, self.meter_address)

    def log_once(self, key: str, message: str) -> None:
        """Log a warning once per (key, message)."""
        entry = (key, message)
        if entry in self._logged:
            return
        if len(self._logged) >= _MAX_LOGGED:
            self._logged.clear()
        self._logged.add(entry)
        _LOGGER.warning("b-route: %s", message)

    # --- waiting (tests, benches, the integration) ---------------------------------------------

    async def wait_for(self, *states: SessionState, timeout_s: float = 60.0) -> SessionState:
        """Wait until the session is in one of `states`; TimeoutError otherwise."""
        async with asyncio.timeout(timeout_s):
            while self.state not in states:
                self._changed.clear()
                await self._changed.wait()
        return self.state

    # --- the lifecycle -------------------------------------------------------------------------

    def _set(self, state: SessionState, reason: str = "") -> None:
        if state is self.state and reason == self.reason:
            return
        self.state, self.reason = state, reason
        if state is SessionState.JOINED:
            self.joined_at = time.monotonic()
            self.joins += 1
        log = _LOGGER.warning if state in _TROUBLE else _LOGGER.info
        log("b-route %s: %s%s", self.config.port, state.value, f" ({reason})" if reason else "")
        self._changed.set()
        if self.on_state is not None:
            self.on_state(state, reason)

    async def _run(self) -> None:
        delay = self.config.retry_min_s
        while True:
            try:
                await self._connect()
                delay = self.config.retry_min_s
                await self._stay_joined()
            except AuthenticationFailed as err:
                self._set(SessionState.AUTH_FAILED, str(err))
                wait = self.config.auth_retry_s
            except MeterNotFound as err:
                self._set(SessionState.NO_METER, str(err))
                wait = delay
            except DongleUnavailable as err:
                self._set(SessionState.NO_DONGLE, str(err))
                wait = delay
            except DongleError as err:
                self._set(SessionState.ERROR, f"{err}; trying again")
                wait = delay
            await self._close_dongle()
            delay = min(self.config.retry_max_s, delay * 2)
            await asyncio.sleep(wait)

    async def _connect(self) -> None:
        while not self._trouble.empty():  # from a dongle that is gone
            self._trouble.get_nowait()
        self._set(SessionState.STARTING, f"opening {self.config.port}")
        dongle = Dongle(
            self.config.port, baudrate=self.config.baudrate,
            on_message=self._on_message, on_lost=self._on_lost,
        )
        await dongle.open()
        self._dongle = dongle
        await dongle.reset()
        self.version = await dongle.version()
        await dongle.data_format()
        await dongle.set_credentials(*self._credentials.secrets())
        if self.pan is None:
            await self._scan(dongle)
            await self._join(dongle)
            return
        try:
            await self._join(dongle)
        except (AuthenticationFailed, DongleError) as err:
            # The PAN we knew may have moved (a new meter, a new channel): look once more.
            _LOGGER.info("b-route: joining the known PAN failed (%s); scanning again", err)
            self._remember(None)
            await self._scan(dongle)
            await self._join(dongle)

    async def _scan(self, dongle: Dongle) -> None:
        for duration in self.config.scan_durations:
            self._set(SessionState.SCANNING, f"active scan, duration {duration}")
            pans = await dongle.scan(duration)
            if pans:
                self._remember(max(pans, key=lambda p: p.lqi))
                return
        raise MeterNotFound(
            "no smart meter answered the Wi-SUN scans; move the dongle closer to the meter "
            "(or onto a USB extension cable), and check with the power company that the "
            "B-route service is active"
        )

    def _remember(self, pan: sk.PanDescription | None) -> None:
        self.pan = pan
        if self.on_pan is not None:
            self.on_pan(pan)

    async def _join(self, dongle: Dongle) -> None:
        assert self.pan is not None
        self._set(SessionState.JOINING, f"authenticating with meter {self.pan.addr}")
        await dongle.set_pan(self.pan)
        address = await dongle.ll64(self.pan.addr)
        await dongle.join(address, self.config.join_timeout_s)
        self._set(SessionState.JOINED, "")

    async def _stay_joined(self) -> None:
        while True:
            trouble = await self._trouble.get()
            dongle = self._dongle
            if trouble == "lost" or dongle is None:
                raise DongleUnavailable(
                    f"the Wi-SUN dongle at {self.config.port} was unplugged or stopped answering"
                )
            if self.state is SessionState.JOINED:
                self._set(SessionState.JOINING, trouble)
                await self._join(dongle)

    async def _close_dongle(self) -> None:
        dongle, self._dongle = self._dongle, None
        if dongle is not None:
            await dongle.close()

    # --- messages from the dongle -----------------------------------------------------------

    def _on_message(self, message: sk.Message) -> None:
        if isinstance(message, sk.UdpReceived):
            if message.lport == sk.ECHONET_PORT:
                self._frame_in(message)
            return
        if not isinstance(message, sk.Event):
            return
        number = message.number
        if number == sk.EventNumber.SESSION_EXPIRED:
            self._trouble.put_nowait("the PANA session lifetime ran out (EVENT 29)")
        elif number in (sk.EventNumber.TERMINATION_REQUESTED, sk.EventNumber.TERMINATED,
                        sk.EventNumber.TERMINATION_TIMED_OUT):
            self._trouble.put_nowait(f"the meter ended the session (EVENT {number:02X})")
        elif number == sk.EventNumber.TX_LIMIT_ON:
            self.log_once("tx", "the dongle reached the radio's transmit-time limit (ARIB STD-T108)"
                          " and pauses sending for up to an hour; readings resume by themselves")

    def _frame_in(self, udp: sk.UdpReceived) -> None:
        self.stats.received += 1
        try:
            frame = decode(udp.data)
        except FrameError as err:
            self.stats.malformed += 1
            self.log_once(udp.sender, f"dropped a malformed frame from the meter: {err}")
            return
        self.on_frame(frame, sk.format_ipv6(udp.sender))

    def _on_lost(self, reason: str) -> None:
        self._trouble.put_nowait("lost")

    async def _send(self, dongle: Dongle, data: bytes, host: str) -> None:
        try:
            delivered = await dongle.sendto(host, data)
        except DeviceUnreachable as err:
            self.log_once("send", f"a frame to the meter was not sent: {err}")
            return
        if not delivered:
            self.log_once("send", "the dongle could not deliver a frame to the meter "
                          "(EVENT 21 01); the request is retried")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


_TROUBLE = frozenset({SessionState.NO_DONGLE, SessionState.AUTH_FAILED, SessionState.NO_METER,
                      SessionState.ERROR})

