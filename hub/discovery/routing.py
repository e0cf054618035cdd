"""Where a discovery goes: to the integration that already owns the device, or to the hub's
"discovered, not adopted" list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from hub.model import DiscoveredDevice, HubPort, Integration


def discovery_handler(
    hub: HubPort, integrations: Mapping[str, Integration]
) -> Callable[[DiscoveredDevice], Awaitable[None]]:
    """An `on_found` for DiscoveryService.

    An integration with a `follow(found) -> bool` method (ESPHome) is asked first: it reconnects
    a device it owns at its new address, or one the hub stored before a restart. Anything else
    is offered for adoption through `hub.discovered`.
    """

    async def on_found(found: DiscoveredDevice) -> None:
        integ = integrations.get(found.integration)
        # follow() is optional and not part of the Integration ABC (yet)
        follow: Any = getattr(integ, "follow", None)
        if follow is not None and await follow(found):
            return
        await hub.discovered(found)

    return on_found
