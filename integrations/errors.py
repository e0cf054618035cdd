"""Errors of the integrations package.

IntegrationError
 ├── CommandFailed       the device (or protocol) refused a command; the reason says why
 ├── DeviceUnreachable   no answer; retry when the device is back
 └── ProtocolError       bytes that do not parse (never escapes a transport's listener)
"""


class IntegrationError(Exception):
    """Root of all integration errors."""


class CommandFailed(IntegrationError):
    """The device refused a command; the message is shown to the user."""


class DeviceUnreachable(IntegrationError):
    """The device did not answer; the command stays pending."""


class ProtocolError(IntegrationError):
    """Malformed or unexpected bytes from the network."""
