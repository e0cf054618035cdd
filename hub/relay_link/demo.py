"""Link the demo hub to the demo relay: create an account, claim the hub, log in.

    relay = RelayServer(RelayConfig(data_dir=tmp / "relay", port=0)); await relay.start()
    link = RelayLink(relay.url)            # pass in Hub(components=[..., link])
    await hub.start()
    info = await claim_for_demo(link, relay)
    info.phone_url, info.hub_id, info.token   # what a phone (or script) uses
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hub.relay_link.component import RelayLink

DEMO_EMAIL = "demo@homehub.local"
DEMO_PASSWORD = "demo-password-123"


class DemoRelay(Protocol):
    """The part of relay.RelayServer the demo uses (the hub does not import the relay)."""

    @property
    def url(self) -> str:
        """Base URL of the relay."""

    async def create_account(self, email: str, password: str) -> str:
        """Create an account."""

    async def claim(self, email: str, password: str, code: str) -> str:
        """Claim a hub with a code."""

    async def login(self, email: str, password: str) -> str:
        """A session token."""


@dataclass(frozen=True, slots=True)
class DemoRelayInfo:
    """What the demo prints about its relay."""

    phone_url: str
    hub_id: str
    email: str
    password: str
    token: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "relay_url": self.phone_url,
            "relay_hub_id": self.hub_id,
            "relay_email": self.email,
            "relay_password": self.password,
            "relay_token": self.token,
        }


async def claim_for_demo(
    link: RelayLink,
    relay: DemoRelay,
    email: str = DEMO_EMAIL,
    password: str = DEMO_PASSWORD,
    timeout: float = 15.0,
) -> DemoRelayInfo:
    """Wait for the tunnel, create the demo account, claim the hub with a fresh code."""
    await link.wait_connected(timeout)
    await relay.create_account(email, password)
    code = (await link.claim_code())["code"]
    hub_id = await relay.claim(email, password, code)
    token = await relay.login(email, password)
    return DemoRelayInfo(relay.url, hub_id, email, password, token)
