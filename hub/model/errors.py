"""The errors an integration may raise to the hub: half of the integration interface.

They live here, beside `Integration`, so the hub's core can catch them without importing the
plug-ins (`integrations.errors` re-exports them and adds the integrations' internal ones).

IntegrationError
 ├── CommandFailed       the device (or protocol) refused a command; the reason says why
 └── DeviceUnreachable   no answer; retry when the device is back
"""


class IntegrationError(Exception):
    """Root of all integration errors."""


class CommandFailed(IntegrationError):
    """The device refused a command; the message is shown to the user."""


class DeviceUnreachable(IntegrationError):
    """The device did not answer; the command stays pending."""
