"""Where a discovery goes: to the integration that already owns the device, or to the hub's
"discovered, not adopted" list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from hub.model import DiscoveredDevice, HubPort, Integration


def discovery_handler(
    hub: HubPort, integrations: Mapping[str, Integration]
) -> Callable[[DiscoveredDevice], Awaitable[None]]:
    """An `on_found` for DiscoveryService.

    The integration is asked first (`Integration.follow`): it reconnects a device it owns at its
    new address, or one the hub stored before a restart. Anything else is offered for adoption
    through `hub.discovered`.
    """

    async def on_found(found: DiscoveredDevice) -> None:
        integ = integrations.get(found.integration)
        if integ is not None and await integ.follow(found):
            return
        await hub.discovered(found)

    return on_found
