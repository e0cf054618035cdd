"""IR profiles and the integration's config: codes resolve early, mistakes are named."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import ir_codes
from integrations.broadlink import captures
from integrations.broadlink.integration import Settings
from integrations.broadlink.profiles import (
    ProfileError,
    encode_ac,
    load_profile,
    parse_code_text,
    resolve_code,
)
from integrations.errors import CommandFailed, IntegrationError
from ir_codes.formats import broadlink as bl_format

POWER = captures.nec_packet(0x04, 0x08)


def test_codes_in_hex_base64_and_protocol_form() -> None:
    assert parse_code_text(POWER.hex()) == POWER
    assert parse_code_text(base64.b64encode(POWER).decode()) == POWER
    assert parse_code_text(POWER.hex() + "000000") == POWER  # padding after a learned code
    assert resolve_code({"broadlink": POWER.hex()}) == POWER
    nec = resolve_code({"protocol": "NEC", "address": 4, "command": 8})
    assert nec == bl_format.to_packet(ir_codes.encode("NEC", 4, 8))
    sony = resolve_code({"protocol": "SONY", "address": 1, "command": 21, "bits": 12})
    decoded = ir_codes.decode(bl_format.from_packet(sony))
    assert (decoded.protocol, decoded.address, decoded.command) == ("SONY", 1, 21)
    # other formats ir_codes reads: Pronto hex and Nature Remo JSON of the same NEC button
    nec_raw = ir_codes.encode("NEC", 4, 8)
    pronto = ir_codes.formats.pronto.to_pronto(nec_raw)
    for spec in (pronto, {"pronto": pronto}):
        decoded = ir_codes.decode(bl_format.from_packet(resolve_code(spec)))
        assert (decoded.protocol, decoded.address, decoded.command) == ("NEC", 4, 8)


def test_named_code_sets_from_ir_codes_and_user_dirs(tmp_path: Path) -> None:
    tv = load_profile("samsung_tv")
    assert (tv.power_on, tv.power_off) == ("power_on", "power_off")
    decoded = ir_codes.decode(bl_format.from_packet(tv.commands["volume_up"]))
    assert (decoded.protocol, decoded.address, decoded.command) == ("SAMSUNG32", 0x07, 0x07)
    ac = load_profile("daikin_ac").ac
    assert ac is not None and ac.brand == "daikin" and ac.defaults["power"] is True
    (tmp_path / "my_fan.yaml").write_text(
        "name: my_fan\nkind: fan\ncommands:\n  speed: {broadlink: " + POWER.hex() + "}\n"
    )
    assert load_profile("my_fan", [tmp_path]).commands == {"speed": POWER}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("zz not a code", "could not recognise the input format.*Broadlink hex or base64"),
        (bytes.fromhex("9900040011223344"), "not IR"),
        ("26001000aabb", "only 6 arrived"),
        ({"protocol": "NOPE", "address": 1, "command": 2}, "NOPE"),
        ({"pronto": "0000 006D 0001"}, "Pronto code too short"),
        (42, "cannot read 42"),
    ],
)
def test_bad_codes_say_what_is_wrong(spec: object, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        resolve_code(spec)


def test_power_mapping_conventions() -> None:
    toggle = load_profile({"commands": {"power": POWER.hex()}})
    assert (toggle.power_toggle, toggle.power_on, toggle.has_power) == ("power", None, True)
    discrete = load_profile({"commands": {"power_on": POWER.hex(), "power_off": POWER.hex()}})
    assert (discrete.power_on, discrete.power_off, discrete.power_toggle) == (
        "power_on", "power_off", None
    )
    none = load_profile({"commands": {"mute": POWER.hex()}})
    assert not none.has_power
    with pytest.raises(ProfileError, match="unknown command 'pwr'"):
        load_profile({"commands": {"mute": POWER.hex()}, "power": {"toggle": "pwr"}})
    with pytest.raises(ProfileError, match="command 'mute'"):
        load_profile({"name": "tv", "commands": {"mute": "garbage!"}})


def test_ac_profiles_take_the_brand_range_from_ir_codes() -> None:
    ac = load_profile({"kind": "ac", "brand": "daikin"}).ac
    assert ac is not None and ac.brand == "daikin"
    assert ac.min_temperature < ac.max_temperature
    with pytest.raises(ProfileError, match="daikin"):  # the message lists the known brands
        load_profile({"kind": "ac", "brand": "acme"})
    frame = encode_ac(ac, {"power": True, "mode": "cool", "target_temperature": 25,
                           "fan_speed": "2", "swing": "vertical"})
    brand, state, _ = ir_codes.decode_ac(bl_format.from_packet(frame))
    assert (brand, state.mode, state.target_temperature, state.fan, state.swing) == (
        "daikin", "cool", 25, "low", "on"
    )
    with pytest.raises(CommandFailed, match=r"fan speeds auto and 1\.\.5"):
        encode_ac(ac, {"fan_speed": "7"})


def test_unknown_profile_names_list_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"no-such-profile.*samsung_tv"):
        load_profile("no-such-profile")


def test_settings_parse_and_name_bad_keys() -> None:
    s = Settings.from_config({
        "hosts": ["127.0.0.35", "127.0.0.36:8080", {"host": "127.0.0.37", "port": 81}],
        "devices": [{"name": "Living room TV", "blaster": "127.0.0.35", "profile": "tv"}],
    })
    assert s.hosts == (("127.0.0.35", 80), ("127.0.0.36", 8080), ("127.0.0.37", 81))
    assert s.devices[0].id == "broadlink-ir-living_room_tv"
    assert s.discover_address is None  # no probing unless asked
    with pytest.raises(IntegrationError, match="needs both 'blaster'"):
        Settings.from_config({"devices": [{"name": "TV", "profile": "tv"}]})
    with pytest.raises(IntegrationError, match="not valid"):
        Settings.from_config({"hosts": ["127.0.0.35:http"]})


def test_code_set_defaults_are_put_in_hub_words() -> None:
    ac = load_profile({"brand": "daikin", "defaults": {"fan_speed": "low", "swing": "on"}}).ac
    assert ac is not None
    assert ac.defaults == {"fan_speed": "2", "swing": "vertical"}
