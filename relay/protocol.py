"""The tunnel protocol between a hub and the relay: frozen message values and a pure JSON codec.

This module is the only thing the hub and the relay share; it does no I/O and imports neither.
Each WebSocket text frame carries one JSON object whose ``t`` field names the message::

    relay -> hub   challenge {nonce}                      first frame after the upgrade
    hub -> relay   auth {public_key, signature, hub_id, name, version, purpose}
    relay -> hub   welcome {hub_id, heartbeat_s, shadow_digests}  (or a close with a reason)
    hub -> relay   shadow {device_id, version, device, resync}   one device's full record
    hub -> relay   shadow_gone {device_id}                 the device was removed
    hub -> relay   resync_done {device_ids}                what the hub has after a resync
    relay -> hub   request {id, method, path, query, headers, body, principal}
    hub -> relay   response {id, status, headers, body}
    hub -> relay   event {event}
    either way     ping {ts} / pong {ts}                   heartbeats; silence means half-open
    hub -> relay   claim_code_request {id}
    relay -> hub   claim_code {id, code, expires_in}
    relay -> hub   drain {reconnect_after_s, reason}       the node is going away
    relay -> hub   error {id, message}                     a hub-initiated call failed
    hub -> relay   backup_put {id, backup_id, vault_id, size, sha256, keep}   start an upload
    hub -> relay   backup_chunk {id, seq, data}            base64 of at most BACKUP_CHUNK_BYTES
    hub -> relay   backup_done {id}                        all chunks sent: check and keep it
    relay -> hub   backup_ack {id, seq, object_id, used_bytes, quota_bytes}  each step accepted

Backups travel encrypted: the relay stores ciphertext it cannot open, under the hub's owner
account (with a quota) and the "vault id" (an Ed25519 public key derived from the owner's
recovery key). A new machine that knows the recovery key lists and downloads them over HTTP
with `vault_auth_payload` signatures, before it has any hub identity.

The hub's identity is its Ed25519 public key; the relay's hub id is derived from it
(`hub_id_for`), so nobody can squat an id and the relay stores nothing secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

PROTOCOL_VERSION = 1
#: Largest frame either side accepts; a bigger one closes that tunnel with code 1009.
MAX_FRAME_BYTES = 1024 * 1024
#: Largest proxied request body the relay forwards.
MAX_BODY_BYTES = 256 * 1024
AUTH_CONTEXT = b"homehub-relay-auth-v1:"
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
# GET on any relay node: {"url": tunnel URL of the least-loaded node or null, "fallbacks": [...]}
ROUTE_PATH = "/v1/hub/route"
CLOSE_TRY_AGAIN = 1013  # the node cannot take the hub now (cluster link down); dial again
PURPOSE_TUNNEL = "tunnel"
PURPOSE_CONTROL = "control"  # a short-lived connection (CLI asking for a claim code)
#: Raw bytes per backup_chunk frame (base64 makes it 4/3 larger, well under MAX_FRAME_BYTES).
BACKUP_CHUNK_BYTES = 512 * 1024
VAULT_CONTEXT = "homehub-backup-vault-v1"
#: How far a vault request's timestamp may be from the relay's clock.
VAULT_SKEW_S = 300.0


#: Deepest JSON nesting either side (and both HTTP APIs) accepts; far above any real document,
#: far below where Python's parser and encoder run out of stack.
MAX_JSON_DEPTH = 64


class ProtocolError(ValueError):
    """A frame that is not valid tunnel protocol; the tunnel closes with this message."""


class JsonTooDeep(ProtocolError):
    """JSON nested deeper than MAX_JSON_DEPTH."""


def loads_bounded(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads`, refusing documents nested deeper than `max_depth` with JsonTooDeep.

    Also raises json.JSONDecodeError / UnicodeDecodeError like json.loads.
    """
    too_deep = f"the JSON is nested deeper than {max_depth} levels; flatten it"
    try:
        doc = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(too_deep) from None
    opens = (
        text.count(b"[") + text.count(b"{")
        if isinstance(text, bytes)
        else (text.count("[") + text.count("{"))
    )
    if opens <= max_depth:
        return doc  # cannot be deeper than the number of brackets in it
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise JsonTooDeep(too_deep)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return doc


class FrameTooLarge(ProtocolError):
    """A frame over MAX_FRAME_BYTES."""


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every tunnel message; `t` names it on the wire."""

    t: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Challenge(Message):
    """A random nonce the hub must sign."""

    t: ClassVar[str] = "challenge"
    nonce: str


@dataclass(frozen=True, slots=True)
class Auth(Message):
    """The hub's answer: its public key and a signature over the nonce."""

    t: ClassVar[str] = "auth"
    public_key: str  # base64 raw Ed25519 public key
    signature: str  # base64 signature over auth_payload(nonce, public_key)
    hub_id: str = ""  # the hub's own local id (informational)
    name: str = ""
    version: int = PROTOCOL_VERSION
    purpose: str = PURPOSE_TUNNEL


@dataclass(frozen=True, slots=True)
class Welcome(Message):
    """Accepted: the relay's id for this hub and the shadow versions it holds."""

    t: ClassVar[str] = "welcome"
    hub_id: str
    heartbeat_s: float
    shadow_digests: Mapping[str, str] = field(default_factory=dict)  # see record_digest


@dataclass(frozen=True, slots=True)
class ShadowUpdate(Message):
    """One device's full record (description, name, room, online, shadow) at a version."""

    t: ClassVar[str] = "shadow"
    device_id: str
    version: int
    device: Mapping[str, Any]
    resync: bool = False


@dataclass(frozen=True, slots=True)
class ShadowGone(Message):
    """The device no longer exists on the hub."""

    t: ClassVar[str] = "shadow_gone"
    device_id: str


@dataclass(frozen=True, slots=True)
class ResyncDone(Message):
    """Every device the hub has; the relay drops cached devices not listed."""

    t: ClassVar[str] = "resync_done"
    device_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Request(Message):
    """A proxied API call for the hub's router."""

    t: ClassVar[str] = "request"
    id: int
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""  # UTF-8 text (the API is JSON)
    principal: str = ""


@dataclass(frozen=True, slots=True)
class Response(Message):
    """The hub's answer to a Request."""

    t: ClassVar[str] = "response"
    id: int
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventFrame(Message):
    """One hub event, in the hub's JSON form."""

    t: ClassVar[str] = "event"
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Ping(Message):
    """Heartbeat."""

    t: ClassVar[str] = "ping"
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class Pong(Message):
    """Heartbeat answer."""

    t: ClassVar[str] = "pong"
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class ClaimCodeRequest(Message):
    """The hub asks for a one-time code that an account can claim it with."""

    t: ClassVar[str] = "claim_code_request"
    id: int


@dataclass(frozen=True, slots=True)
class ClaimCode(Message):
    """A one-time claim code, shown to the user by the hub."""

    t: ClassVar[str] = "claim_code"
    id: int
    code: str
    expires_in: float


@dataclass(frozen=True, slots=True)
class Drain(Message):
    """The relay node is going away: reconnect after this delay."""

    t: ClassVar[str] = "drain"
    reconnect_after_s: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ErrorFrame(Message):
    """A hub-initiated call failed."""

    t: ClassVar[str] = "error"
    id: int
    message: str


@dataclass(frozen=True, slots=True)
class BackupPut(Message):
    """Start uploading one encrypted backup of `size` bytes (SHA-256 `sha256` of the whole).

    `keep`: how many of this hub's backups the relay keeps (the oldest beyond go)."""

    t: ClassVar[str] = "backup_put"
    id: int
    backup_id: str
    vault_id: str
    size: int
    sha256: str
    keep: int = 7


@dataclass(frozen=True, slots=True)
class BackupChunk(Message):
    """The next piece of the upload `id` (seq counts from 0)."""

    t: ClassVar[str] = "backup_chunk"
    id: int
    seq: int
    data: str  # base64


@dataclass(frozen=True, slots=True)
class BackupDone(Message):
    """Every chunk of upload `id` is sent."""

    t: ClassVar[str] = "backup_done"
    id: int


@dataclass(frozen=True, slots=True)
class BackupAck(Message):
    """The relay took a step of upload `id` (seq -1: the start; the last: stored and checked)."""

    t: ClassVar[str] = "backup_ack"
    id: int
    seq: int
    object_id: str = ""
    used_bytes: int = 0
    quota_bytes: int = 0


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.t: cls
    for cls in (
        Challenge,
        Auth,
        Welcome,
        ShadowUpdate,
        ShadowGone,
        ResyncDone,
        Request,
        Response,
        EventFrame,
        Ping,
        Pong,
        ClaimCodeRequest,
        ClaimCode,
        Drain,
        ErrorFrame,
        BackupPut,
        BackupChunk,
        BackupDone,
        BackupAck,
    )
}


def encode(message: Message) -> str:
    """One message as a frame's text; raises FrameTooLarge over the limit."""
    # Shallow: asdict() deep-copies every payload, and payloads are already JSON values.
    doc = {f.name: getattr(message, f.name) for f in fields(message)}
    doc["t"] = message.t
    text = json.dumps(doc, separators=(",", ":"), default=_jsonable)
    if len(text) > MAX_FRAME_BYTES:
        raise FrameTooLarge(
            f"{message.t} frame is {len(text)} bytes, over the {MAX_FRAME_BYTES} byte limit"
        )
    return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decode(text: str | bytes, limit: int = MAX_FRAME_BYTES) -> Message:
    """Parse one frame; raises ProtocolError saying what is wrong."""
    if len(text) > limit:
        raise FrameTooLarge(f"frame is {len(text)} bytes, over the {limit} byte limit")
    try:
        doc = loads_bounded(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"frame is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("frame must be a JSON object")
    cls = MESSAGE_TYPES.get(str(doc.pop("t", "")))
    if cls is None:
        raise ProtocolError(f"unknown message type {doc.get('t')!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(doc) - names
    if unknown:
        # Newer peers may add fields; ignore them rather than break old ones.
        doc = {k: v for k, v in doc.items() if k in names}
    if "device_ids" in doc and isinstance(doc["device_ids"], list):
        doc["device_ids"] = tuple(str(d) for d in doc["device_ids"])
    try:
        message = cls(**doc)
    except TypeError as err:
        raise ProtocolError(f"bad {cls.t} frame: {err}") from None
    _check_types(message)
    return message


_INT_FIELDS = {"id", "version", "status", "seq", "size", "keep", "used_bytes", "quota_bytes"}
_STR_FIELDS = {
    "nonce",
    "public_key",
    "signature",
    "hub_id",
    "name",
    "purpose",
    "device_id",
    "method",
    "path",
    "body",
    "principal",
    "code",
    "reason",
    "message",
    "backup_id",
    "vault_id",
    "sha256",
    "data",
    "object_id",
}


def _check_types(message: Message) -> None:
    for f in fields(message):
        value = getattr(message, f.name)
        if f.name in _INT_FIELDS and (not isinstance(value, int) or isinstance(value, bool)):
            raise ProtocolError(f"{message.t}.{f.name} must be an integer")
        if (
            f.name in _STR_FIELDS
            and not isinstance(value, str)
            and not (f.name == "body" and isinstance(message, Response))
        ):
            raise ProtocolError(f"{message.t}.{f.name} must be a string")


def auth_payload(nonce: str, public_key: str) -> bytes:
    """What the hub signs: a fixed context, the relay's nonce and its own key."""
    return AUTH_CONTEXT + nonce.encode() + b":" + public_key.encode()


def vault_auth_payload(method: str, path: str, ts: int) -> bytes:
    """What a vault key signs to list or fetch backups: no replay on another path or later."""
    return f"{VAULT_CONTEXT}:{method.upper()}:{path}:{ts}".encode()


def record_digest(version: int, device: Mapping[str, Any]) -> str:
    """What the relay holds for a device, compactly: the hub resends a device when it differs."""
    text = json.dumps(device, sort_keys=True, separators=(",", ":"), default=str)
    return f"{version}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def hub_id_for(public_key_raw: bytes) -> str:
    """The relay's id for a hub: a digest of its public key (cannot be chosen by anyone)."""
    digest = hashlib.sha256(public_key_raw).digest()
    return "hub_" + base64.b32encode(digest[:15]).decode().lower()


def b64(data: bytes) -> str:
    """Base64 text."""
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    """Inverse of b64; raises ProtocolError on bad input."""
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as err:
        raise ProtocolError(f"bad base64: {err}") from None
