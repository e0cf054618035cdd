"""Errors of the integrations package.

IntegrationError         (hub.model.errors: the integration interface)
 ├── CommandFailed       the device (or protocol) refused a command; the reason says why
 ├── DeviceUnreachable   no answer; retry when the device is back
 └── ProtocolError       bytes that do not parse (never escapes a transport's listener)
"""

from hub.model.errors import CommandFailed, DeviceUnreachable, IntegrationError

__all__ = ["CommandFailed", "DeviceUnreachable", "IntegrationError", "ProtocolError"]


class ProtocolError(IntegrationError):
    """Malformed or unexpected bytes from the network."""
