"""The small interface between the hub and an integration.

An integration drives one protocol. The hub calls it (`setup`, `discover`, `apply_desired`,
`send_command`, `shutdown`); it calls back through a `HubPort` (devices found, values reported,
availability). Integrations raise errors from `hub.model.errors`:
`CommandFailed` (the device refused: the desired value is dropped and the command fails with the
reason) and `DeviceUnreachable` (the desired value stays pending and is re-applied when the device
reports itself online again).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from hub.model.device import DeviceDescription, DiscoveredDevice
from hub.model.errors import CommandFailed


class HubPort(Protocol):
    """What the hub offers an integration."""

    async def add_device(self, description: DeviceDescription) -> None:
        """Register a device or update its description (properties, address)."""

    async def add_devices(self, descriptions: Sequence[DeviceDescription]) -> None:
        """`add_device` for many at once, stored in one commit (bridges listing hundreds)."""

    async def report(
        self, device_id: str, values: Mapping[str, Any], *, timestamp: float | None = None
    ) -> None:
        """Values read from the device (partial is fine); unknown keys are logged and dropped."""

    async def set_available(self, device_id: str, online: bool, reason: str = "") -> None:
        """The device became reachable or unreachable. Online re-applies pending desired values."""

    async def discovered(self, found: DiscoveredDevice) -> None:
        """Something was found that the user may adopt."""

    def device(self, device_id: str) -> DeviceDescription | None:
        """The stored description of a device of this hub (with its `extra`), if known."""

    def stored_devices(self, integration: str) -> list[DeviceDescription]:
        """Every stored device of an integration (to resume adopted devices after a restart)."""

    def storage_dir(self, integration: str) -> Path:
        """A folder for files an integration keeps (learned codes ...); create it when needed."""


@runtime_checkable
class IrLearner(Protocol):
    """An integration whose blasters can learn IR codes (Broadlink; ESPHome receivers)."""

    async def learn(
        self,
        blaster_id: str,
        timeout_s: float = 30.0,
        progress: Callable[[float, float], None] | None = None,
    ) -> bytes:
        """Listen on a blaster until a code arrives (Broadlink packet bytes) or time runs out;
        `progress(elapsed_s, remaining_s)` is called while waiting."""
        ...

    async def save_learned(self, device_id: str, command: str, code: bytes) -> None:
        """Store a learned code as a named command of an IR device."""
        ...


class Integration(abc.ABC):
    """Base class of every integration; subclasses set `domain`."""

    domain: ClassVar[str]

    @abc.abstractmethod
    async def setup(self, hub: HubPort, config: Mapping[str, Any]) -> None:
        """Start sockets and background work; `config` is this integration's config section."""

    async def discover(self) -> None:  # noqa: B027 - optional hook
        """Look for devices now (the hub also calls this once after setup)."""

    @abc.abstractmethod
    async def apply_desired(self, device_id: str, changes: Mapping[str, Any]) -> None:
        """Send validated desired values to the device. Raise CommandFailed/DeviceUnreachable."""

    async def send_command(
        self, device_id: str, command: str, params: Mapping[str, Any] | None = None
    ) -> None:
        """Run a named, stateless command (an IR button). Default: not supported."""
        raise CommandFailed(f"{self.domain} devices have no named commands")

    async def adopt(self, found: DiscoveredDevice, options: Mapping[str, Any]) -> None:
        """The user adopted a discovered device; add it through the HubPort."""
        raise CommandFailed(f"{self.domain} adds its devices by itself; nothing to adopt")

    async def follow(self, found: DiscoveredDevice) -> bool:
        """A discovered service may be a device this integration already drives (it moved,
        or it was stored before a restart): reconnect to it and return True. Default: False."""
        return False

    async def remove(self, device_id: str) -> None:  # noqa: B027 - optional hook
        """The user removed a device: stop polling it."""

    @abc.abstractmethod
    async def shutdown(self) -> None:
        """Close sockets and cancel background work."""
