"""The phone API of a relay node, one part per module:

| module       | routes                                                        |
|--------------|---------------------------------------------------------------|
| accounts.py  | POST /v1/accounts, POST /v1/sessions, DELETE /v1/sessions/current |
| hubs.py      | GET /v1/hubs, POST /v1/hubs/claim, GET/DELETE /v1/hubs/{id}   |
| members.py   | members and invitations of a home; the caller's invitations  |
| devices.py   | cached devices, desired writes (queued while away), the queue |
| events.py    | the live events WebSocket                                     |
| push.py      | Web Push: the VAPID key, the browser's subscriptions          |
| proxy.py     | the hub's own API through its tunnel                          |

Every part is a `PhonePart`: built from the shared `PhoneContext` (who is asking, which hubs
they own, the routing, store, shadows and queue), it mounts its routes in `add_routes(router)`.
To add a part: write a module like these, then list it in `phone_parts()` (or override
`RelayServer.phone_parts` in a subclass).
"""

from __future__ import annotations

from relay.phone.accounts import AccountRoutes
from relay.phone.context import PhoneContext, PhonePart, PhoneSockets
from relay.phone.devices import DeviceRoutes
from relay.phone.events import EventRoutes
from relay.phone.hubs import HubRoutes
from relay.phone.members import MemberRoutes
from relay.phone.proxy import ProxyRoutes
from relay.phone.push import PushRoutes


def phone_parts(ctx: PhoneContext) -> list[PhonePart]:
    """The standard parts, in mounting order (the proxy's catch-all comes last)."""
    return [
        AccountRoutes(ctx),
        HubRoutes(ctx),
        MemberRoutes(ctx),
        DeviceRoutes(ctx),
        EventRoutes(ctx),
        PushRoutes(ctx),
        ProxyRoutes(ctx),
    ]


__all__ = ["PhoneContext", "PhonePart", "PhoneSockets", "phone_parts"]
