"""Protobuf messages of the ESPHome native API, by wire type number.

The schema is aioesphomeapi's generated ``api_pb2`` (the protocol's own definition); the type
numbers come from the same library's table, so the emulator cannot drift from the client.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from google.protobuf.message import DecodeError, Message

from integrations.errors import ProtocolError

# Generated protobuf modules define their classes at import time; mypy cannot see them.
pb: Any = importlib.import_module("aioesphomeapi.api_pb2")
_core: Any = importlib.import_module("aioesphomeapi.core")

MESSAGE_TYPES: Mapping[int, type[Message]] = dict(_core.MESSAGE_TYPE_TO_PROTO)
TYPE_IDS: Mapping[type[Message], int] = {cls: num for num, cls in MESSAGE_TYPES.items()}

API_VERSION = (1, 19)  # what aioesphomeapi 46.23 speaks


def encode(msg: Message) -> tuple[int, bytes]:
    """(wire type, body) of a message."""
    try:
        return TYPE_IDS[type(msg)], msg.SerializeToString()
    except KeyError:
        raise ValueError(f"{type(msg).__name__} has no wire type number") from None


def decode(msg_type: int, body: bytes) -> Message | None:
    """The message for a wire type and body; None for types this API does not define."""
    cls = MESSAGE_TYPES.get(msg_type)
    if cls is None:
        return None
    msg = cls()
    try:
        msg.ParseFromString(body)
    except DecodeError as err:
        raise ProtocolError(f"bad {cls.__name__} body: {err}") from err
    return msg


def name_of(msg_type: int) -> str:
    """A readable name for a wire type (for logs)."""
    cls = MESSAGE_TYPES.get(msg_type)
    return cls.__name__ if cls else f"type {msg_type}"
