"""homehub's terminal console: find the hub, pair, watch and control the home."""

from tui.client import HubClient
from tui.errors import ApiError, AuthRequired, HubUnreachable, NotSupported, TuiError

__all__ = ["ApiError", "AuthRequired", "HubClient", "HubUnreachable", "NotSupported", "TuiError"]
