"""Requests and responses as plain values, so LAN HTTP and the relay tunnel share the handlers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One API call, whatever carried it.

    `trusted_principal` is set only by a transport that authenticated the caller itself (the
    relay tunnel, for an account that claimed this hub); bearer tokens are not checked then.
    `cookie_session` says the `authorization` header was made from the browser's session cookie
    (after its CSRF and Origin checks), not sent by the client.
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    trusted_principal: str | None = None
    cookie_session: bool = False
    remote: str = ""  # the client's address on the LAN ("" through the relay)


class JsonBytes(bytes):
    """A body already encoded as JSON (see `json_list`)."""


def json_list(key: str, items: Iterable[Any]) -> JsonBytes:
    """`{key: [items...]}` as JSON bytes, each item encoded as soon as it is made.

    Built as one value, GET /devices with 500 devices made ~10,000 small dicts at once, and
    after the answer the allocator kept their memory (+3 MB resident on a small board); made
    one item at a time from a generator, only one item's dicts exist at any moment. Bytes,
    not text: the answer is held until the connection's next request, once.
    """
    text = f"{{{json.dumps(key)}: [{', '.join(json.dumps(i) for i in items)}]}}"
    return JsonBytes(text.encode())


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """A status, a JSON-able body (None: empty) and extra headers.

    `set_session` (a token to keep in the browser's session cookie) and `clear_session` are
    carried out by the LAN HTTP adapter; other transports have no cookies and ignore them.
    """

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    set_session: str | None = None
    clear_session: bool = False

    def body_bytes(self) -> bytes:
        """The body as JSON bytes (empty for None)."""
        if isinstance(self.body, JsonBytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()

    def value(self) -> Any:
        """The body as a JSON value (for transports that embed it in a message of their own)."""
        return json.loads(self.body) if isinstance(self.body, JsonBytes) else self.body


def error_body(status: int, message: str, details: Mapping[str, Any] | None = None) -> Any:
    """The one error shape every endpoint uses."""
    out: dict[str, Any] = {"error": {"status": status, "message": message}}
    if details:
        out["error"]["details"] = dict(details)
    return out
