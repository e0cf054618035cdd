"""Device references in rules: a rule may name a device by its id or its name.

At save, every `device:` in triggers, conditions (nested ones too) and actions must be a known
device: an id is kept, a name (case and surrounding spaces ignored) becomes that device's id,
anything else is refused with the known names. Stored rules therefore always hold ids, so a
renamed device keeps its rules; clients show names by looking the ids up.

Without this check a misspelt or named device was stored as written and the rule silently never
fired (the index looks events up by id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hub.rules.model import Rule
from hub.rules.problems import Path

_NESTED_LISTS = ("conditions",)
_NESTED_ONE = ("while", "until")
_SHOWN_NAMES = 12


class DeviceNames:
    """Known devices (id -> name), to check and resolve the references of rules."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)
        self._by_name: dict[str, list[str]] = {}
        for device_id, name in sorted(self.names.items()):
            self._by_name.setdefault(_key(name), []).append(device_id)

    def resolve(self, ref: str) -> str | None:
        """The device id `ref` means (an id, or a name that only one device has), or None."""
        if ref in self.names:
            return ref
        found = self._by_name.get(_key(ref), [])
        return found[0] if len(found) == 1 else None

    def problem(self, ref: str) -> str | None:
        """Why `ref` names no device, in words a person can act on (None: it does)."""
        if self.resolve(ref) is not None:
            return None
        same = self._by_name.get(_key(ref), [])
        if len(same) > 1:
            return f"{len(same)} devices are called {ref!r} ({', '.join(same)}); use the id"
        if not self.names:
            return f"no device {ref!r}: this hub has no devices yet"
        known = sorted(self.names.items(), key=lambda kv: kv[1].lower())
        shown = ", ".join(f"{name} ({device_id})" for device_id, name in known[:_SHOWN_NAMES])
        more = f" and {len(known) - _SHOWN_NAMES} more" if len(known) > _SHOWN_NAMES else ""
        return f"no device {ref!r}; give a device's name or id: {shown}{more}"


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _refs(item: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, dict holding `device`) for an item and the conditions nested in it."""
    if not isinstance(item, dict):
        return
    if isinstance(item.get("device"), str):
        yield path, item
    for key in _NESTED_LISTS:
        for j, sub in enumerate(item.get(key) or ()):
            yield from _refs(sub, (*path, key, j))
    for key in _NESTED_ONE:
        yield from _refs(item.get(key), (*path, key))


def _device_holders(doc: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for key in ("triggers", "conditions", "actions"):
        for i, item in enumerate(doc.get(key) or ()):
            yield from _refs(item, (key, i))


def device_problems(rule: Rule, devices: DeviceNames, base: Path = ()) -> list[tuple[Path, str]]:
    """(field path, message) for each `device:` that names no device."""
    out = []
    for path, holder in _device_holders(rule.to_doc()):
        why = devices.problem(holder["device"])
        if why is not None:
            out.append(((*base, *path, "device"), why))
    return out


def with_device_ids(rule: Rule, devices: DeviceNames) -> Rule:
    """The rule with every device name replaced by its id (check device_problems first)."""
    doc = rule.to_doc()
    changed = False
    for _, holder in _device_holders(doc):
        device_id = devices.resolve(holder["device"])
        if device_id is not None and device_id != holder["device"]:
            holder["device"] = device_id
            changed = True
    return Rule.model_validate(doc) if changed else rule
