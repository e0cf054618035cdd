"""The hub's side of the relay: an outbound tunnel that makes the hub reachable from phones."""

from hub.relay_link.client import LinkError, TunnelClient, TunnelHandler, tunnel_url
from hub.relay_link.component import RelayLink, relay_link_factory
from hub.relay_link.control import claim_code_for_data_dir, fetch_claim_code
from hub.relay_link.demo import DemoRelayInfo, claim_for_demo
from hub.relay_link.identity import HubIdentity
from hub.relay_link.reconnect import LinkState, ReconnectLogic

__all__ = [
    "DemoRelayInfo",
    "HubIdentity",
    "LinkError",
    "LinkState",
    "ReconnectLogic",
    "RelayLink",
    "TunnelClient",
    "TunnelHandler",
    "claim_code_for_data_dir",
    "claim_for_demo",
    "fetch_claim_code",
    "relay_link_factory",
    "tunnel_url",
]
