"""Code sets: packaged profiles load and drive hub properties; user profiles; validation."""

from __future__ import annotations

from pathlib import Path

import pytest

import ir_codes
from ir_codes import ProfileError
from ir_codes.ac import decode_ac
from ir_codes.codesets import Profile, list_profiles, load_profile
from ir_codes.formats import broadlink, pronto


def test_packaged_profiles_cover_tv_light_fan_and_ac() -> None:
    kinds = {load_profile(name).kind for name in list_profiles()}
    assert {"tv", "light", "fan", "ac"} <= kinds


@pytest.mark.parametrize("name", list_profiles())
def test_every_packaged_command_encodes_and_decodes_back(name: str) -> None:
    profile = load_profile(name)
    for command, code in profile.commands.items():
        assert ir_codes.decode(profile.signal(command)) == code, command


def test_tv_profile_maps_hub_properties_to_commands() -> None:
    tv = load_profile("samsung_tv")
    assert "power" in tv.hub_properties and "ir_commands" in tv.hub_properties
    on = ir_codes.decode(tv.signal_for("power", True))
    assert (on.protocol, on.address, on.command) == ("SAMSUNG32", 7, 0x99)
    assert ir_codes.decode(tv.signal_for("volume", "down")).command == 0x0B
    with pytest.raises(ProfileError, match="no command for volume='sideways'"):
        tv.signal_for("volume", "sideways")


def test_ac_profile_merges_the_new_value_into_the_whole_state() -> None:
    ac = load_profile("daikin_ac")
    raw = ac.signal_for("target_temperature", 22, {"power": True, "mode": "heat", "fan_speed": "3"})
    brand, state, _ = decode_ac(raw)
    assert brand == "daikin"
    assert (state.power, state.mode, state.target_temperature, state.fan) == (
        True, "heat", 22, "medium",
    )  # fmt: skip
    off = decode_ac(ac.signal_for("power", False))[1]
    assert (off.power, off.mode, off.target_temperature) == (False, "cool", 26)


def test_user_profile_from_learned_codes_round_trips_through_a_file(tmp_path: Path) -> None:
    profile = Profile.new("living_room_tv", kind="tv", description="learned")
    learned_packet = broadlink.to_packet(ir_codes.encode("NEC", 0x04, 0x08))
    profile.add_command("power", learned_packet)  # as a Broadlink device reports it
    profile.add_command("input", pronto.to_pronto(ir_codes.encode("RC5", 3, 12)))
    odd = ir_codes.RawSignal(38_000, (1200, 800, 1200, 800, 3000, 20_000))
    profile.add_command("odd_button", odd)  # no known protocol: kept as timings
    profile.power["toggle"] = "power"
    path = profile.save(tmp_path / "profiles")
    assert path.name == "living_room_tv.yaml"

    assert "living_room_tv" in list_profiles([tmp_path / "profiles"])
    loaded = load_profile("living_room_tv", user_dirs=[tmp_path / "profiles"])
    assert loaded.commands["power"] == ir_codes.IrCode("NEC", 4, 8, 32)
    assert loaded.commands["input"] == ir_codes.IrCode("RC5", 3, 12, 12)
    kept = loaded.signal("odd_button").timings_us
    assert all(abs(a - b) <= 16 for a, b in zip(kept, odd.timings_us, strict=True))
    assert ir_codes.decode(loaded.signal_for("power", True)).command == 8
    assert load_profile(path).name == "living_room_tv"


def test_import_a_flipper_file_into_a_profile(tmp_path: Path) -> None:
    text = (
        "Filetype: IR signals file\nVersion: 1\n#\nname: Vol Up\ntype: parsed\n"
        "protocol: Samsung32\naddress: 07 00 00 00\ncommand: 07 00 00 00\n"
    )
    profile = Profile.new("imported_tv", kind="tv")
    assert profile.import_signals(text) == ["vol_up"]
    profile.properties["volume"] = {"up": "vol_up"}
    loaded = load_profile(profile.save(tmp_path))
    assert ir_codes.decode(loaded.signal_for("volume", "up")).command == 7


def test_user_profile_overrides_a_packaged_one(tmp_path: Path) -> None:
    mine = Profile.new("samsung_tv", kind="tv")
    mine.add_command("power", ir_codes.IrCode("SAMSUNG32", 7, 0x40, 32))
    mine.save(tmp_path)
    assert load_profile("samsung_tv", user_dirs=[tmp_path]).commands.keys() == {"power"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: tv\n", "field 'name' is required"),
        ("name: x\nkind: toaster\n", "field 'kind' must be one of tv, light"),
        ("name: x\ncommands:\n  power: {protocol: NEC, address: four, command: 8}\n",
         "commands.power.address: must be an integer"),
        ("name: x\ncommands:\n  power: {protocol: FOO, address: 1, command: 8}\n",
         "commands.power: unknown IR protocol 'FOO'"),
        ("name: x\ncommands:\n  power: {protocol: NEC, address: 1, command: 70000}\n",
         "commands.power: NEC command must be 0..65535"),
        ("name: x\ncommands:\n  power: {pronto: '0000 006D 0001'}\n",
         "commands.power: Pronto code too short"),
        ("name: x\ncommands:\n  power: {nothing: 1}\n", "commands.power: needs one of protocol"),
        ("name: x\npower: {on: missing}\n", "power.on: no command named 'missing'"),
        ("name: x\nkind: ac\n", "field 'brand' is required for kind 'ac'"),
        ("name: x\nkind: ac\nbrand: acme\n", "brand: no air-conditioner encoder for brand 'acme'"),
        ("name: x\nkind: ac\nbrand: daikin\nmax_temperature: 99\n",
         "max_temperature: must be a number in 10..32"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_invalid_profiles_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace("[", r"\[")) as err:
        load_profile(path)
    assert str(err.value).startswith("bad.yaml")


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="no IR profile named 'nope'; known: daikin_ac"):
        load_profile("nope")


def test_profile_names_cannot_escape_the_user_directory() -> None:
    with pytest.raises(ProfileError, match="plain identifier"):
        Profile.new("../etc/passwd")
