"""The tunnel codec, the backoff logic, the package boundary and the CLI claim-code path."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from relay_testkit import Phone, linked_hub

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
def test_request_response_round_trip(rid, method, path, query, body, status, payload) -> None:
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


@pytest.mark.parametrize("cls", sorted(p.MESSAGE_TYPES.values(), key=lambda c: c.t),
                         ids=lambda c: c.t)
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
