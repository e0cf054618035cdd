"""The hub's API: transport-independent handlers, an aiohttp adapter, the OpenAPI document."""

from hub.api.messages import ApiRequest, ApiResponse
from hub.api.router import Call, Router

__all__ = ["ApiRequest", "ApiResponse", "Call", "Router"]
