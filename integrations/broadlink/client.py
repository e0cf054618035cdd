"""Async wrapper over the blocking `broadlink` library.

Every library call runs in a worker thread (`asyncio.to_thread`) behind a per-device
`asyncio.Lock` (the library's own `threading.Lock` is never taken, see PROTOCOLS.md §2). An auth
error triggers one re-auth and one retry; library exceptions become `integrations.errors`.

    client = await BroadlinkClient.connect("127.0.0.20", timeout=5)
    await client.send(code)
    code = await client.learn(timeout_s=30, progress=lambda elapsed, left: ...)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import broadlink
from broadlink import exceptions as blx

from integrations.broadlink import packet as pk
from integrations.errors import CommandFailed, DeviceUnreachable

ProgressCallback = Callable[[float, float], None]  # (elapsed_s, remaining_s)

_T = TypeVar("_T")
_AUTH_ERRORS = (blx.AuthenticationError, blx.AuthorizationError, blx.ConnectionClosedError)
_NOTHING_LEARNED = (blx.ReadError, blx.StorageError)  # check_data before a button was pressed


class LearnTimeout(CommandFailed):
    """No IR code arrived while the blaster was learning."""


@dataclass(frozen=True, slots=True)
class BlasterInfo:
    """What discovery tells about a blaster."""

    host: str
    port: int
    mac: str  # aa:bb:cc:dd:ee:ff
    devtype: int
    model: str
    manufacturer: str
    name: str
    locked: bool

    @property
    def label(self) -> str:
        """A short human description for error messages."""
        return f"Broadlink {self.model or hex(self.devtype)} at {self.host}"


def _info(device: Any) -> BlasterInfo:
    host, port = device.host
    return BlasterInfo(
        host=str(host),
        port=int(port),
        mac=pk.format_mac(bytes(device.mac)),
        devtype=int(device.devtype),
        model=str(device.model or ""),
        manufacturer=str(device.manufacturer or ""),
        name=str(device.name or ""),
        locked=bool(device.is_locked),
    )


def _unreachable(label: str, timeout: float, err: BaseException) -> DeviceUnreachable:
    return DeviceUnreachable(
        f"{label} did not answer within {timeout:g} s; check that it is powered and on the "
        f"same network, and that its address is right ({err})"
    )


def _translate(label: str, timeout: float, what: str, err: Exception) -> Exception:
    if isinstance(err, blx.NetworkTimeoutError | OSError):
        return _unreachable(label, timeout, err)
    if isinstance(err, _AUTH_ERRORS):
        return CommandFailed(
            f"{label} refused authentication while trying to {what}; unlock it in the "
            f"Broadlink app (Device settings > Lock device: off) and try again ({err})"
        )
    if isinstance(err, blx.DataValidationError | ValueError):
        return CommandFailed(
            f"{label} sent a reply that does not parse while trying to {what}; power-cycle "
            f"the blaster if this repeats ({err})"
        )
    return CommandFailed(f"{label} could not {what}: {err}")


class BroadlinkClient:
    """One blaster, driven through the `broadlink` library without blocking the loop."""

    def __init__(self, device: Any, *, timeout: float = 5.0) -> None:
        device.timeout = timeout
        self._device = device
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._authenticated = False
        self.info = _info(device)

    # --- finding blasters ---------------------------------------------------------------------

    @staticmethod
    async def discover(
        address: str = "255.255.255.255",
        *,
        timeout: float = 2.0,
        port: int = pk.PORT,
        local_ip: str | None = None,
        client_timeout: float = 5.0,
    ) -> list[BroadlinkClient]:
        """Probe `address` (broadcast or one host) for `timeout` s; unauthenticated clients."""
        try:
            devices = await asyncio.to_thread(
                broadlink.discover,
                timeout=timeout,
                local_ip_address=local_ip,
                discover_ip_address=address,
                discover_ip_port=port,
            )
        except OSError as err:
            raise DeviceUnreachable(
                f"cannot probe {address}:{port} for Broadlink blasters ({err}); check the "
                "discover_address setting"
            ) from err
        return [BroadlinkClient(d, timeout=client_timeout) for d in devices]

    @classmethod
    async def connect(
        cls, host: str, port: int = pk.PORT, *, timeout: float = 5.0
    ) -> BroadlinkClient:
        """Say hello to one known address and authenticate."""
        try:
            device = await asyncio.to_thread(broadlink.hello, host, port=port, timeout=timeout)
        except (blx.BroadlinkException, OSError) as err:
            raise _translate(f"Broadlink blaster at {host}", timeout, "answer hello", err) from err
        client = cls(device, timeout=timeout)
        await client.authenticate()
        return client

    # --- calls --------------------------------------------------------------------------------

    @property
    def authenticated(self) -> bool:
        """True once auth succeeded (until an auth error)."""
        return self._authenticated

    async def authenticate(self) -> None:
        """Get a session key from the blaster."""
        async with self._lock:
            await self._auth_locked()

    async def _auth_locked(self) -> None:
        self._authenticated = False
        try:
            await asyncio.to_thread(self._device.auth)
        except (blx.BroadlinkException, OSError, ValueError) as err:
            raise _translate(self.info.label, self._timeout, "authenticate", err) from err
        self._authenticated = True

    async def _call(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        async with self._lock:
            if not self._authenticated:
                await self._auth_locked()
            try:
                return await asyncio.to_thread(fn, *args)
            except _AUTH_ERRORS:
                pass  # the session expired (blaster rebooted): one re-auth, one retry
            except (blx.BroadlinkException, OSError, ValueError) as err:
                raise _translate(self.info.label, self._timeout, what, err) from err
            await self._auth_locked()
            try:
                return await asyncio.to_thread(fn, *args)
            except (blx.BroadlinkException, OSError, ValueError) as err:
                raise _translate(self.info.label, self._timeout, what, err) from err

    async def send(self, code: bytes) -> None:
        """Transmit one IR/RF code packet (type 0x26/0xb2/0xd7, as learned)."""
        try:
            pk.code_packet_length(code)
        except pk.PacketError as err:
            raise CommandFailed(f"not a Broadlink code packet: {err.reason}") from err
        await self._call("send an IR code", self._device.send_data, bytes(code))

    async def enter_learning(self) -> None:
        """Put the blaster in IR learning mode."""
        await self._call("enter learning mode", self._device.enter_learning)

    async def check_data(self) -> bytes | None:
        """The learned code, or None while nothing has been captured."""

        def check() -> bytes | None:
            try:
                return bytes(self._device.check_data())
            except _NOTHING_LEARNED:
                return None

        data = await self._call("read the learned code", check)
        if data is None:
            return None
        try:
            return pk.trim_code(data)
        except pk.PacketError as err:
            raise CommandFailed(
                f"{self.info.label} returned a learned code that does not parse ({err.reason}); "
                "try learning again"
            ) from err

    async def learn(
        self,
        timeout_s: float = 30.0,
        progress: ProgressCallback | None = None,
        *,
        poll_interval: float = 1.0,
    ) -> bytes:
        """Enter learning and poll until a code arrives; raise LearnTimeout after `timeout_s`."""
        await self.enter_learning()
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if progress is not None:
                progress(elapsed, max(0.0, timeout_s - elapsed))
            code = await self.check_data()
            if code is not None:
                return code
            remaining = timeout_s - (time.monotonic() - start)
            if remaining <= 0:
                raise LearnTimeout(
                    f"Learning timed out: {self.info.label} received no IR code within "
                    f"{timeout_s:g} s; point the remote at the blaster from close by, press the "
                    "button, and try again"
                )
            await asyncio.sleep(min(poll_interval, remaining))

    async def firmware(self) -> int:
        """The firmware version; a cheap request that proves the blaster is there."""
        return int(await self._call("report its firmware", self._device.get_fwversion))

    async def sensors(self) -> dict[str, float]:
        """Temperature (and humidity on RM4) if the model has sensors, else {}."""
        check = getattr(self._device, "check_sensors", None)
        if check is None:
            return {}
        values = await self._call("read its sensors", check)
        return {str(k): float(v) for k, v in values.items()}
