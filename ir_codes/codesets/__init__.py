"""Code sets: device profiles that map hub properties and named commands to IR codes.

A profile file (YAML or JSON) looks like this; packaged ones live in `profiles/`:

    name: samsung_tv
    kind: tv                       # tv | light | fan | ac | generic
    description: Samsung TVs (Samsung32, customer code 0x07)
    commands:
      power: {protocol: SAMSUNG32, address: 7, command: 2}
      learned_button: {broadlink: JgBQAAAB...}     # or pronto / nature / raw / any code text
    power: {toggle: power}         # or {on: power_on, off: power_off}
    properties:                    # other hub properties: value -> command
      volume: {up: volume_up, down: volume_down}

    name: daikin_ac
    kind: ac
    brand: daikin                  # whole-state frames from ir_codes.ac
    min_temperature: 18
    max_temperature: 30

Users add their own: `Profile.new(...)`, `add_command(name, code)` for learned codes,
`import_signals(file_text)` for Flipper/LIRC files, then `save(directory)`.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ir_codes.ac import MODES, AcState, brand, encode_ac
from ir_codes.errors import IrCodesError, ProfileError
from ir_codes.formats import broadlink, read_signal, read_signals
from ir_codes.model import IrCode, RawSignal
from ir_codes.registry import codec, decode_any, encode_code

__all__ = ["KINDS", "Profile", "list_profiles", "load_profile", "parse_code"]

KINDS = ("tv", "light", "fan", "ac", "generic")
_SUFFIXES = (".yaml", ".yml", ".json")
_CODE_KEYS = ("protocol", "broadlink", "pronto", "nature", "raw")

Code = IrCode | RawSignal


def _packaged_dir() -> Path:
    return Path(str(resources.files("ir_codes.codesets") / "profiles"))


def parse_code(spec: Any, where: str) -> Code:
    """A command's code from its file form; errors name `where` (e.g. commands.power)."""
    try:
        if isinstance(spec, str):
            return read_signal(spec)
        if not isinstance(spec, Mapping):
            raise ProfileError("must be a mapping like {protocol: NEC, address: 4, command: 8}")
        if "protocol" in spec:
            return _protocol_code(spec, where)
        if "broadlink" in spec:
            return read_signal(str(spec["broadlink"]).strip())
        if "pronto" in spec:
            return read_signal(str(spec["pronto"]), "pronto")
        if "nature" in spec:
            return read_signal(json.dumps(spec["nature"]), "nature")
        if "raw" in spec:
            timings = spec["raw"]
            if not isinstance(timings, list):
                raise ProfileError(f"{where}.raw: must be a list of µs durations")
            return RawSignal.from_timings(timings, int(spec.get("carrier_hz", 38_000)))
    except ProfileError as err:
        if str(err).startswith(where):
            raise
        raise ProfileError(f"{where}: {err}") from err
    except (IrCodesError, TypeError, ValueError) as err:
        raise ProfileError(f"{where}: {err}") from err
    raise ProfileError(f"{where}: needs one of {', '.join(_CODE_KEYS)}")


def _protocol_code(spec: Mapping[str, Any], where: str) -> IrCode:
    values: dict[str, int] = {}
    for key in ("address", "command"):
        value = spec.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfileError(f"{where}.{key}: must be an integer, got {value!r}")
        values[key] = value
    found = codec(str(spec["protocol"]))
    extras = {k: v for k, v in spec.items() if k not in ("protocol", "address", "command", "bits")}
    bits = spec.get("bits", found.default_bits)
    code = IrCode(found.name, values["address"], values["command"], int(bits), extras)
    encode_code(code)  # fail now, naming the field, rather than when the button is pressed
    return code


def _code_to_file(code: Code) -> dict[str, Any]:
    if isinstance(code, IrCode):
        out: dict[str, Any] = {"protocol": code.protocol}
        out.update({"address": code.address, "command": code.command})
        if code.bits and code.bits != codec(code.protocol).default_bits:
            out["bits"] = code.bits
        out.update(code.extras)
        return out
    return {"broadlink": broadlink.to_base64(code)}


@dataclass(slots=True)
class Profile:
    """A device's code set: named commands, power and property mappings, or an A/C brand."""

    name: str
    kind: str = "generic"
    description: str = ""
    commands: dict[str, Code] = field(default_factory=dict)
    power: dict[str, str] = field(default_factory=dict)  # on/off or toggle -> command name
    properties: dict[str, dict[str, str]] = field(default_factory=dict)
    ac: dict[str, Any] = field(default_factory=dict)  # brand, temperature range, modes ...

    @classmethod
    def new(cls, name: str, kind: str = "generic", description: str = "") -> Profile:
        """An empty profile to fill with learned or imported codes."""
        profile = cls(name, kind, description)
        profile.validate()
        return profile

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "profile") -> Profile:
        """A profile from its file form, with errors that name the offending field."""
        if not isinstance(data, Mapping):
            raise ProfileError(f"{source}: a profile must be a mapping with at least 'name'")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ProfileError(f"{source}: field 'name' is required (a short identifier)")
        raw_commands = data.get("commands", {}) or {}
        if not isinstance(raw_commands, Mapping):
            raise ProfileError(f"{source}: field 'commands' must map command names to codes")
        commands = {
            str(k): parse_code(v, f"{source}: commands.{k}") for k, v in raw_commands.items()
        }
        power = data.get("power", {}) or {}
        if isinstance(power, str):
            power = {"toggle": power}
        properties = data.get("properties", {}) or {}
        ac = {k: data[k] for k in _AC_KEYS if k in data}
        profile = cls(
            name.strip(),
            str(data.get("kind", "ac" if "brand" in data else "generic")),
            str(data.get("description", "")),
            commands,
            _string_map(power, f"{source}: power"),
            {
                str(p): _string_map(v, f"{source}: properties.{p}")
                for p, v in _mapping(properties, f"{source}: properties").items()
            },
            ac,
        )
        profile.validate(source)
        return profile

    def validate(self, source: str = "profile") -> None:
        """Check kind, references to commands and the A/C settings."""
        if self.kind not in KINDS:
            raise ProfileError(f"{source}: field 'kind' must be one of {', '.join(KINDS)}")
        if not self.name or any(c in self.name for c in "/\\") or self.name.startswith("."):
            raise ProfileError(f"{source}: field 'name' must be a plain identifier, not a path")
        for key, target in self.power.items():
            if key not in ("on", "off", "toggle"):
                raise ProfileError(f"{source}: power.{key}: use 'on', 'off' or 'toggle'")
            if target not in self.commands:
                raise ProfileError(f"{source}: power.{key}: no command named {target!r}")
        for prop, mapping in self.properties.items():
            for value, target in mapping.items():
                if target not in self.commands:
                    raise ProfileError(
                        f"{source}: properties.{prop}.{value}: no command named {target!r}"
                    )
        if self.kind == "ac":
            if "brand" not in self.ac:
                raise ProfileError(f"{source}: field 'brand' is required for kind 'ac'")
            try:
                low, high = brand(str(self.ac["brand"])).temp_range
            except IrCodesError as err:
                raise ProfileError(f"{source}: brand: {err}") from err
            for key in ("min_temperature", "max_temperature"):
                value = self.ac.get(key, low if key.startswith("min") else high)
                if not isinstance(value, int | float) or not low <= value <= high:
                    raise ProfileError(f"{source}: {key}: must be a number in {low:g}..{high:g}")
            for mode in self.ac.get("modes", MODES):
                if mode not in MODES:
                    raise ProfileError(f"{source}: modes: {mode!r} is not one of {MODES}")

    @property
    def hub_properties(self) -> list[str]:
        """The hub properties this profile can drive."""
        props: list[str] = []
        if self.kind == "ac":
            props += ["power", "mode", "target_temperature", "fan_speed"]
        elif self.power:
            props.append("power")
        props += [p for p in self.properties if p not in props]
        if self.commands:
            props.append("ir_commands")
        return props

    def add_command(self, name: str, code: Code | str | bytes, normalize: bool = True) -> Code:
        """Add (or replace) a named command from a code, code text or a Broadlink packet.

        With normalize, a capture that decodes to a known protocol is stored as that code.
        """
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ProfileError(f"command name {name!r} must be letters, digits, _ or -")
        if isinstance(code, bytes):
            code = broadlink.from_packet(code)
        elif isinstance(code, str):
            code = read_signal(code)
        if normalize and isinstance(code, RawSignal):
            with contextlib.suppress(IrCodesError):  # unknown protocol: keep timings as learned
                code = decode_any(code)
        self.commands[name] = code
        return code

    def import_signals(self, data: str | bytes, fmt: str | None = None) -> list[str]:
        """Add every signal of an imported file (Flipper .ir, lircd.conf, ...); returns names."""
        added: list[str] = []
        for signal in read_signals(data, fmt):
            name = re.sub(r"[^A-Za-z0-9_-]+", "_", signal.name).strip("_").lower() or "signal"
            self.add_command(name, signal.code or signal.raw)
            added.append(name)
        return added

    def signal(self, command: str) -> RawSignal:
        """Timings for a named command."""
        if command not in self.commands:
            known = ", ".join(sorted(self.commands)) or "none"
            raise ProfileError(f"profile {self.name} has no command {command!r}; known: {known}")
        code = self.commands[command]
        return encode_code(code) if isinstance(code, IrCode) else code

    def signal_for(
        self, prop: str, value: Any, state: Mapping[str, Any] | None = None
    ) -> RawSignal:
        """Timings that set a hub property; A/C profiles merge it into the whole `state`."""
        if self.kind == "ac":
            if prop not in ("power", "mode", "target_temperature", "fan_speed", "swing"):
                raise ProfileError(f"A/C profile {self.name} cannot set {prop!r}")
            merged = {**self.ac.get("defaults", {}), **(state or {}), prop: value}
            return encode_ac(str(self.ac["brand"]), AcState.from_mapping(merged))
        if prop == "power":
            wanted = "on" if value in (True, "on", 1) else "off"
            target = self.power.get(wanted) or self.power.get("toggle")
        else:
            target = self.properties.get(prop, {}).get(str(value))
        if target is None:
            raise ProfileError(f"profile {self.name} has no command for {prop}={value!r}")
        return self.signal(target)

    def to_dict(self) -> dict[str, Any]:
        """The file form (also what integrations read)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.description:
            out["description"] = self.description
        out.update(self.ac)
        if self.commands:
            out["commands"] = {k: _code_to_file(v) for k, v in self.commands.items()}
        if self.power:
            out["power"] = dict(self.power)
        if self.properties:
            out["properties"] = {k: dict(v) for k, v in self.properties.items()}
        return out

    def save(self, directory: Path | str) -> Path:
        """Write `<name>.yaml` into a user directory (created if missing); returns the path."""
        self.validate()
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.yaml"
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))
        return path


_AC_KEYS = ("brand", "modes", "min_temperature", "max_temperature", "fan_speeds", "swings",
            "defaults")  # fmt: skip


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: must be a mapping")
    return value


def _string_map(value: Any, where: str) -> dict[str, str]:
    # YAML 1.1 reads unquoted on/off keys as booleans.
    names = {True: "on", False: "off"}
    return {names.get(k, str(k)) if isinstance(k, bool) else str(k): str(v)
            for k, v in _mapping(value, where).items()}  # fmt: skip


def _profile_files(user_dirs: Iterable[Path | str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in [_packaged_dir(), *(Path(d) for d in user_dirs)]:  # user files win
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix in _SUFFIXES:
                    found[path.stem] = path
    return found


def list_profiles(user_dirs: Iterable[Path | str] = ()) -> list[str]:
    """Names of the packaged profiles and those in the given user directories."""
    return sorted(_profile_files(user_dirs))


def load_profile(name_or_path: str | Path, user_dirs: Iterable[Path | str] = ()) -> Profile:
    """A profile by name (user directories first, then packaged) or by file path."""
    dirs = list(user_dirs)
    path = Path(name_or_path)
    if path.suffix not in _SUFFIXES or not path.is_file():
        files = _profile_files(dirs)
        if str(name_or_path) not in files:
            raise ProfileError(
                f"no IR profile named {str(name_or_path)!r}; known: {', '.join(sorted(files))}"
            )
        path = files[str(name_or_path)]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ProfileError(f"cannot read profile {path}: {err}") from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ProfileError(f"{path.name}: not valid {path.suffix[1:].upper()}: {err}") from err
    return Profile.from_dict(data, path.name)
