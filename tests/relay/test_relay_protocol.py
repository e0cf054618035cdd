"""The tunnel codec, the backoff logic, the package boundary and the CLI claim-code path."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from relay_testkit import PASSWORD, Phone, claim_code, linked_hub, running_relay

from hub.relay_link import HubIdentity, ReconnectLogic, claim_code_for_data_dir, tunnel_url
from relay import RelayServer
from relay import protocol as p

ROOT = Path(__file__).resolve().parents[2]
_text = st.text(max_size=40)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_text, kids, max_size=4),
    max_leaves=20,
)


@given(
    rid=st.integers(0, 2**31),
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    path=_text,
    query=st.dictionaries(_text, _text, max_size=3),
    body=_text,
    status=st.integers(100, 599),
    payload=_json,
)
def test_request_response_round_trip(
    rid: int,
    method: str,
    path: str,
    query: dict[str, str],
    body: str,
    status: int,
    payload: Any,
) -> None:
    req = p.Request(rid, method, path, query, {"idempotency-key": "k"}, body, "relay:acc_1")
    assert p.decode(p.encode(req)) == req
    resp = p.Response(rid, status, payload)
    assert p.decode(p.encode(resp)) == resp


@given(st.binary(max_size=200))
def test_garbage_is_a_protocol_error_never_a_crash(data: bytes) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.decode(data)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        ('{"t":"nope"}', "unknown message type"),
        ('{"t":"request","id":"1","method":"GET","path":"/"}', "must be an integer"),
        ('{"t":"request","id":1,"method":"GET"}', "bad request frame"),
        ("[1,2]", "JSON object"),
        ('{"t":"auth","public_key":1,"signature":"x"}', "must be a string"),
    ],
)
def test_bad_frames_say_what_is_wrong(frame: str, match: str) -> None:
    with pytest.raises(p.ProtocolError, match=match):
        p.decode(frame)


def test_frame_limit_on_both_sides() -> None:
    big = p.EventFrame({"x": "y" * p.MAX_FRAME_BYTES})
    with pytest.raises(p.FrameTooLarge):
        p.encode(big)
    with pytest.raises(p.FrameTooLarge):
        p.decode("x" * 101, limit=100)


def test_hub_id_is_derived_from_the_key_and_signatures_bind_the_nonce() -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ident = HubIdentity.generate()
    assert ident.relay_hub_id == p.hub_id_for(ident.public_key_raw)
    assert ident.relay_hub_id != HubIdentity.generate().relay_hub_id
    auth = ident.auth("nonce-1", "hub_x", "Home", p.PURPOSE_TUNNEL)
    key = Ed25519PublicKey.from_public_bytes(ident.public_key_raw)
    key.verify(p.unb64(auth.signature), p.auth_payload("nonce-1", ident.public_key))
    with pytest.raises(InvalidSignature):
        key.verify(p.unb64(auth.signature), p.auth_payload("nonce-2", ident.public_key))


def test_backoff_full_jitter_grows_to_the_cap_and_honours_hints() -> None:
    draws: list[tuple[float, float]] = []

    def rand(lo: float, hi: float) -> float:
        draws.append((lo, hi))
        return hi

    logic = ReconnectLogic(base_s=1.0, cap_s=10.0, rand=rand)
    assert logic.next_delay() == 0.0  # first attempt at once
    ceilings = []
    for _ in range(6):
        logic.failed()
        ceilings.append(logic.next_delay())
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert all(lo == 0.0 for lo, _ in draws)
    logic.hint(3.5)
    assert logic.next_delay() == 3.5
    logic.connected()
    assert logic.next_delay() == 0.0


def test_tunnel_url_forms() -> None:
    want = "ws://r:1/v1/hub/connect"
    assert tunnel_url("ws://r:1") == want
    assert tunnel_url("http://r:1/") == want
    assert tunnel_url(want) == want
    assert tunnel_url("https://relay.example.org") == "wss://relay.example.org/v1/hub/connect"


def test_relay_never_imports_the_hub() -> None:
    code = (
        "import sys, relay, relay.server, relay.cli, relay.routing, relay.__main__;"
        "bad = sorted(m for m in sys.modules if m == 'hub' or m.startswith('hub.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


async def test_cli_claim_code_path_with_the_hub_identity(
    tmp_path: Path, relay: RelayServer
) -> None:
    async with linked_hub(tmp_path / "hub", relay.url) as hub:
        # The CLI path opens its own short control link with the identity on disk, while the
        # hub's tunnel stays attached.
        code = await claim_code_for_data_dir(relay.url, tmp_path / "hub")
        assert hub.link.client is not None and hub.link.client.connected
        assert relay.sessions[hub.relay_hub_id].state.value == "online"
        phone = await Phone.login(relay.url, "alice@example.org")
        try:
            assert await phone.claim(code.code) == hub.relay_hub_id
        finally:
            await phone.close()


async def test_relay_code_cli_prints_a_claimable_code(
    tmp_path: Path, relay: RelayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from hub.relay_link import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["relay-code", "--data-dir", str(tmp_path / "hub"), "--relay-url", relay.url]
    )
    assert await asyncio.to_thread(args.func, args) == 0
    code = capsys.readouterr().out.split()[0]
    identity = HubIdentity.load_or_create(tmp_path / "hub")
    phone = await Phone.login(relay.url, "alice@example.org")
    try:
        assert await phone.claim(code) == identity.relay_hub_id
    finally:
        await phone.close()


@pytest.mark.parametrize("package", ["relay", "hub.relay_link"])
def test_public_surface_is_honest(package: str) -> None:
    import importlib

    mod = importlib.import_module(package)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{package}.{name} is listed but missing"


def _sample(hint: Any, name: str) -> Any:
    """A value of the field's declared type that differs from its default."""
    text = str(hint)
    if hint is int:
        return 41
    if hint is float:
        return 2.5
    if hint is bool:
        return True
    if hint is str:
        return f"{name}-x"
    if text.startswith("tuple"):
        return ("a", "b")
    if "Mapping" in text or "dict" in text:
        return {"k": "v"}
    if "None" in text and "str" in text:
        return f"{name}-x"
    return {"any": [1, "two"]}  # Any: a JSON value


_MESSAGE_CLASSES: list[type[p.Message]] = sorted(p.MESSAGE_TYPES.values(), key=lambda c: c.t)


@pytest.mark.parametrize("cls", _MESSAGE_CLASSES, ids=[c.t for c in _MESSAGE_CLASSES])
def test_every_message_type_round_trips_and_is_frozen(cls: type[p.Message]) -> None:
    """Each message kind, every field set: encode -> decode gives it back, and it is a frozen
    value (STYLE: messages are immutable; a mutable one could change after it was sent)."""
    hints = typing.get_type_hints(cls)
    declared = {n for n, h in hints.items() if typing.get_origin(h) is not typing.ClassVar}
    assert {f.name for f in dataclasses.fields(cls)} == declared  # every field is on the wire
    kwargs = {f.name: _sample(hints[f.name], f.name) for f in dataclasses.fields(cls)}
    message = cls(**kwargs)
    back = p.decode(p.encode(message))
    assert type(back) is cls and back == message
    first = dataclasses.fields(cls)[0].name if dataclasses.fields(cls) else None
    if first is not None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(message, first, kwargs[first])
    # Slotted: a relay holds a few of these per tunnel, tens of thousands of tunnels a node.
    assert not hasattr(message, "__dict__")


def test_close_codes_are_the_registered_websocket_ones() -> None:
    """Each close code means what RFC 6455 / IANA's registry says (taken from aiohttp, not
    from us): a hub's WebSocket library reacts to the number, not to our name for it."""
    assert p.CLOSE_GOING_AWAY == aiohttp.WSCloseCode.GOING_AWAY == 1001
    assert p.CLOSE_POLICY == aiohttp.WSCloseCode.POLICY_VIOLATION == 1008
    assert p.CLOSE_TRY_AGAIN == aiohttp.WSCloseCode.TRY_AGAIN_LATER == 1013


def test_fields_a_peer_may_leave_out_read_as_zero() -> None:
    """A relay that does not report the account's usage (an older one) means nothing used."""
    ack = p.decode(json.dumps({"t": "backup_ack", "id": 3, "seq": -1}))
    assert isinstance(ack, p.BackupAck)
    assert (ack.used_bytes, ack.quota_bytes, ack.object_id) == (0, 0, "")
    # Likewise a heartbeat without its send time (only an echo reads it).
    assert p.decode('{"t": "ping"}') == p.Ping(0.0)


def test_only_a_responses_body_may_be_any_json_value() -> None:
    """A response carries the hub's JSON answer as it is; a request's body is text, and any
    other text field must be text too."""
    response = p.decode(json.dumps({"t": "response", "id": 1, "status": 200, "body": {"a": 1}}))
    assert isinstance(response, p.Response) and response.body == {"a": 1}
    request = {"t": "request", "id": 1, "method": "PUT", "path": "/api/v1/x", "body": {"a": 1}}
    with pytest.raises(p.ProtocolError, match=r"request\.body must be a string"):
        p.decode(json.dumps(request))
    with pytest.raises(p.ProtocolError, match=r"request\.path must be a string"):
        p.decode(json.dumps({**request, "body": "", "path": 5}))


def test_a_hub_id_is_hub_and_24_base32_letters_of_its_key_digest() -> None:
    """120 bits of SHA-256 of the public key in lower-case base32, without padding (ids are
    stored by relays in the field: the form may never change)."""
    import base64
    import hashlib

    key = bytes(range(32))
    hub_id = p.hub_id_for(key)
    assert re.fullmatch(r"hub_[a-z2-7]{24}", hub_id), hub_id
    assert base64.b32decode(hub_id[4:].upper()) == hashlib.sha256(key).digest()[:15]


def test_record_digest_is_version_and_16_hex_digits_of_the_canonical_device() -> None:
    device = {"id": "lamp", "values": {"power": True, "brightness": 40}}
    digest = p.record_digest(3, device)
    assert re.fullmatch(r"3:[0-9a-f]{16}", digest), digest
    assert p.record_digest(3, dict(reversed(list(device.items())))) == digest  # key order
    assert p.record_digest(4, device) != digest
    assert p.record_digest(3, {**device, "values": {"power": False}}) != digest


def test_the_wire_version_is_the_one_hubs_in_the_field_speak() -> None:
    # The relay refuses any other version (relay/tunnel.py): changing it strands every hub
    # already installed until it is updated, so it is a decision, never a side effect.
    assert p.PROTOCOL_VERSION == 1


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize(("open_", "close", "fill"), [("[", "]", "{}"), ('{"a":', "}", "{}")])
def test_json_depth_is_bounded_for_text_and_bytes_lists_and_objects(
        as_bytes: bool, open_: str, close: str, fill: str) -> None:
    def doc(depth: int) -> str | bytes:
        text = open_ * (depth - 1) + fill + close * (depth - 1)
        return text.encode() if as_bytes else text

    assert p.loads_bounded(doc(p.MAX_JSON_DEPTH)) is not None
    with pytest.raises(p.JsonTooDeep, match="deeper than 64"):
        p.loads_bounded(doc(p.MAX_JSON_DEPTH + 1))
    # Many brackets side by side are not depth: a wide, shallow document is accepted.
    wide = "{" + ",".join(f'"k{i}": {{"v": [{i}]}}' for i in range(200)) + "}"
    assert len(p.loads_bounded(wide.encode() if as_bytes else wide)) == 200


def _nested(kind: str, depth: int) -> Any:
    """A JSON value `depth` levels deep: lists in lists, objects in objects, or both in turn
    (lists on odd levels, counting the outermost as 1)."""

    def is_list(level: int) -> bool:
        return kind == "list" or (kind == "mixed" and level % 2 == 1)

    node: Any = [] if is_list(depth) else {}
    for level in range(depth - 1, 0, -1):
        node = [node] if is_list(level) else {"a": node}
    return node


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize("kind", ["list", "object", "mixed"])
def test_json_depth_counts_one_level_per_bracket_at_the_limit(kind: str, as_bytes: bool) -> None:
    """More brackets than the limit (so the walk runs), nested exactly 64 deep: accepted; one
    level more: refused. Lists, objects and lists and objects in turn all count one a level."""

    def text(depth: int) -> str | bytes:
        # A shallow sibling adds a bracket, not depth: the document has more brackets than
        # levels, so the depth must really be counted.
        doc = (
            {"deep": _nested(kind, depth - 1), "flat": []}
            if kind == "object"
            else [_nested(kind, depth - 1), {}]
        )
        raw = json.dumps(doc)
        assert raw.count("[") + raw.count("{") > p.MAX_JSON_DEPTH
        return raw.encode() if as_bytes else raw

    assert p.loads_bounded(text(p.MAX_JSON_DEPTH)) is not None
    with pytest.raises(p.JsonTooDeep, match="deeper than 64"):
        p.loads_bounded(text(p.MAX_JSON_DEPTH + 1))
    assert p.MAX_JSON_DEPTH == 64


@pytest.mark.parametrize("as_bytes", [False, True])
def test_lists_and_objects_in_turn_too_deep_are_refused(as_bytes: bool) -> None:
    """65 levels of lists and objects in turn (33 "[" and 32 "{"): both kinds of bracket add
    up to the depth, so the document is refused, in a frame and on its own."""
    raw = json.dumps(_nested("mixed", p.MAX_JSON_DEPTH + 1))
    assert (raw.count("["), raw.count("{")) == (33, 32)
    with pytest.raises(p.JsonTooDeep):
        p.loads_bounded(raw.encode() if as_bytes else raw)
    frame = '{"t":"event","event":{"x":' + raw + "}}"
    with pytest.raises(p.ProtocolError, match="nested deeper than 64"):
        p.decode(frame.encode() if as_bytes else frame)


MIB = 1024 * 1024


def test_a_frame_of_exactly_one_mebibyte_passes_and_one_byte_more_is_refused() -> None:
    """The frame limit is 1 MiB on both sides (installed hubs size their frames to it)."""
    assert p.MAX_FRAME_BYTES == MIB
    pad = MIB - len(p.encode(p.ErrorFrame(1, "")))
    exact = p.encode(p.ErrorFrame(1, "x" * pad))
    assert len(exact) == MIB
    assert p.decode(exact) == p.ErrorFrame(1, "x" * pad)
    assert p.decode(exact.encode()) == p.ErrorFrame(1, "x" * pad)
    with pytest.raises(p.FrameTooLarge, match=f"error frame is {MIB + 1} bytes, over the {MIB} "):
        p.encode(p.ErrorFrame(1, "x" * (pad + 1)))
    over = exact.replace('"message":"', '"message":"x', 1)
    assert len(over) == MIB + 1
    for frame in (over, over.encode()):
        with pytest.raises(p.FrameTooLarge, match=f"frame is {MIB + 1} bytes, over the {MIB} "):
            p.decode(frame)


def test_a_full_backup_chunk_is_half_a_mebibyte_and_fits_in_one_frame() -> None:
    """Hubs in the field send 512 KiB pieces and the relay refuses bigger ones: both read
    BACKUP_CHUNK_BYTES, and a full piece in base64 still fits in a frame."""
    assert p.BACKUP_CHUNK_BYTES == 512 * 1024
    chunk = p.BackupChunk(3, 7, p.b64(bytes(range(256)) * (512 * 4)))
    text = p.encode(chunk)
    assert len(text) < p.MAX_FRAME_BYTES
    back = p.decode(text)
    assert isinstance(back, p.BackupChunk)
    assert len(p.unb64(back.data)) == 512 * 1024


async def test_an_oversized_frame_closes_the_tunnel_with_1009_message_too_big(
    tmp_path: Path,
) -> None:
    """RFC 6455 section 7.4.1: 1009 is "message too big"; the hub learns why it was cut off."""
    assert p.CLOSE_TOO_BIG == 1009
    limit = 64 * 1024
    async with running_relay(tmp_path / "relay", max_frame_bytes=limit) as relay:
        ident = HubIdentity.generate()
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(tunnel_url(relay.url)) as ws,
        ):
            challenge = p.decode((await ws.receive(timeout=10)).data)
            assert isinstance(challenge, p.Challenge)
            auth = ident.auth(challenge.nonce, "hub_x", "Home", p.PURPOSE_TUNNEL)
            await ws.send_str(p.encode(auth))
            assert isinstance(p.decode((await ws.receive(timeout=10)).data), p.Welcome)
            await ws.send_str(p.encode(p.EventFrame({"blob": "x" * limit})))
            msg = await ws.receive(timeout=10)
            while msg.type is aiohttp.WSMsgType.TEXT:  # a heartbeat may come first
                msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert (msg.data, ws.close_code) == (1009, 1009)
            assert f"over the {limit} byte limit" in str(msg.extra)


async def test_the_relay_forwards_a_body_of_exactly_256_kib_and_refuses_one_byte_more(
    tmp_path: Path,
) -> None:
    """MAX_BODY_BYTES is 256 KiB: a body of exactly that reaches the hub (which answers it);
    one byte more is refused by the relay, saying the limit."""
    assert p.MAX_BODY_BYTES == 256 * 1024
    async with running_relay(tmp_path / "relay") as relay:
        await relay.create_account("alice@example.org", PASSWORD)
        async with linked_hub(tmp_path / "hub", relay.url) as hub:
            phone = await Phone.login(relay.url, "alice@example.org")
            try:
                hub_id = await phone.claim(await claim_code(hub))
                url = f"/v1/hubs/{hub_id}/api/no-such-thing"
                kind = {"content-type": "application/json"}
                r = await phone.client.post(url, content=b"x" * (256 * 1024), headers=kind)
                assert r.status_code == 404, r.text  # the hub's answer: it got the request
                assert "no endpoint /api/v1/no-such-thing" in r.json()["error"]["message"]
                r = await phone.client.post(url, content=b"x" * (256 * 1024 + 1), headers=kind)
                assert r.status_code == 422, r.text
                assert r.json()["error"]["message"] == "the body is over 256 KiB; send less"
            finally:
                await phone.close()
