"""Rules in words, with device names instead of ids: what a rule does, whether it would run now
(from the values the TUI holds), and the hub's dry run. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tui.models import Device


def value_text(device: Device | None, prop: str, value: Any) -> str:
    """A value as the property formats it ('on', '21.0 °C', 'detected')."""
    info = device.properties.get(prop) if device is not None else None
    return info.format(value) if info is not None else str(value)


def _thing(devices: Mapping[str, Device], device_id: str, prop: str) -> str:
    device = devices.get(device_id)
    return f"{device.name if device else device_id}'s {prop.replace('_', ' ')}"


def _now(devices: Mapping[str, Device], device_id: str, prop: str) -> tuple[bool, Any, str]:
    """(has a value, the value, how it reads)."""
    device = devices.get(device_id)
    if device is None:
        return False, None, "no such device"
    if prop not in device.values or device.values[prop] is None:
        return False, None, "no value yet"
    value = device.values[prop]
    return True, value, value_text(device, prop, value)


def _range(above: Any, below: Any, device: Device | None, prop: str) -> str:
    if above is not None and below is not None:
        return f"between {value_text(device, prop, above)} and {value_text(device, prop, below)}"
    if above is not None:
        return f"above {value_text(device, prop, above)}"
    return f"below {value_text(device, prop, below)}"


def _in_range(value: Any, above: Any, below: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (above is None or value > above) and (below is None or value < below)


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) != isinstance(actual, bool):
        return False
    return bool(expected == actual)


def trigger_words(trig: Mapping[str, Any], devices: Mapping[str, Device]) -> str:
    """'When Hall motion's motion becomes detected (now: clear)'."""
    kind = trig.get("type")
    if kind in ("state", "numeric"):
        device_id, prop = str(trig.get("device")), str(trig.get("property"))
        device = devices.get(device_id)
        thing = _thing(devices, device_id, prop)
        _, _, now = _now(devices, device_id, prop)
        if kind == "state" and trig.get("to") is None:
            what = f"When {thing} changes"
        elif kind == "state":
            what = f"When {thing} becomes {value_text(device, prop, trig['to'])}"
        else:
            rng = _range(trig.get("above"), trig.get("below"), device, prop)
            what = f"When {thing} goes {rng} (crosses into it, not while it stays there)"
        held = f" for {trig['for']}" if trig.get("for") else ""
        return f"{what}{held} — now: {now}"
    if kind == "time":
        return f"Every day at {trig.get('at')}"
    if kind == "presence":
        return f"When {trig.get('person') or 'someone'} is {trig.get('to', 'home')}"
    if kind == "availability":
        return (
            f"When {_thing(devices, str(trig.get('device')), 'connection')} goes {trig.get('to')}"
        )
    return f"On a {kind} trigger"


def condition_words(
    cond: Mapping[str, Any], devices: Mapping[str, Device]
) -> tuple[str, bool | None]:
    """('only if ... — now: ..., holds', holds now?) for one condition (None: cannot tell here)."""
    kind = cond.get("type")
    if kind in ("state", "numeric"):
        device_id, prop = str(cond.get("device")), str(cond.get("property"))
        device = devices.get(device_id)
        thing = _thing(devices, device_id, prop)
        known, value, now = _now(devices, device_id, prop)
        if kind == "state":
            wanted = cond["is"] if "is" in cond else cond.get("in")
            if isinstance(wanted, list):
                text = " or ".join(value_text(device, prop, w) for w in wanted)
                holds = known and any(_same(w, value) for w in wanted)
            else:
                text = value_text(device, prop, wanted)
                holds = known and _same(wanted, value)
            words = f"{thing} is {text}"
        else:
            words = f"{thing} is {_range(cond.get('above'), cond.get('below'), device, prop)}"
            holds = known and _in_range(value, cond.get("above"), cond.get("below"))
        return f"Only if {words} — now: {now}, {'holds' if holds else 'fails'}", bool(holds)
    if kind == "time":
        return (
            f"Only if the time is between {cond.get('after') or '00:00'} and "
            f"{cond.get('before') or '24:00'}"
        ), None
    if kind == "presence":
        state = str(cond.get("state", "someone_home")).replace("_", " ")
        return f"Only if {cond.get('person') or ''} {state}".replace("  ", " "), None
    return f"Only if a {kind} condition holds", None


def action_words(action: Mapping[str, Any], devices: Mapping[str, Device]) -> str:
    """'Then set Reading lamp's power to on (now: off)'."""
    kind = action.get("type")
    if kind == "set":
        device_id = str(action.get("device"))
        device = devices.get(device_id)
        parts = []
        for prop, value in (action.get("values") or {}).items():
            _, _, now = _now(devices, device_id, prop)
            parts.append(
                f"{_thing(devices, device_id, prop)} to {value_text(device, prop, value)} "
                f"(now: {now})"
            )
        return "Then set " + ", ".join(parts)
    if kind == "notify":
        return f"Then notify: {action.get('message')}"
    if kind == "command":
        device = devices.get(str(action.get("device")))
        target = device.name if device else action.get("device")
        return f"Then press {action.get('command')} on {target}"
    if kind == "scene":
        return f"Then run the scene {action.get('scene')}"
    if kind == "delay":
        return f"Then wait {action.get('for')}"
    return f"Then {kind}"


def explain_rule(doc: Mapping[str, Any], devices: Mapping[str, Device]) -> list[str]:
    """The rule in words, each part with its current value, and whether it would run now."""
    lines = [trigger_words(t, devices) for t in doc.get("triggers") or ()]
    failing = []
    for cond in doc.get("conditions") or ():
        text, holds = condition_words(cond, devices)
        lines.append(text)
        if holds is False:
            failing.append(text)
    lines += [action_words(a, devices) for a in doc.get("actions") or ()]
    if failing:
        lines.append("If the trigger happened now, the rule would NOT run: a condition fails.")
    else:
        lines.append("If the trigger happened now, the rule would run.")
    return lines


def with_names(text: str, devices: Mapping[str, Device]) -> str:
    """Device ids in a hub message replaced by the devices' names."""
    if not devices:
        return text
    ids = sorted(devices, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w.-])(" + "|".join(re.escape(i) for i in ids) + r")(?:\.(\w+))?(?![\w-])"
    )

    def named(m: re.Match[str]) -> str:
        name = devices[m.group(1)].name
        return f"{name}'s {m.group(2).replace('_', ' ')}" if m.group(2) else name

    return pattern.sub(named, text)


def explain_dry_run(result: Mapping[str, Any], devices: Mapping[str, Device]) -> list[str]:
    """The hub's dry run (POST /rules/{id}/dry-run) as lines a person reads."""
    lines = [
        "Would fire now: yes" if result.get("would_fire") else "Would fire now: no",
    ]
    for reason in result.get("reasons") or ():
        lines.append(f"  because {with_names(str(reason), devices)}")
    lines.append("Triggers:")
    for trig in result.get("triggers") or ():
        state = "active" if trig.get("active") else "not active"
        lines.append(
            f"  {trig.get('index', 0) + 1}. {trig.get('type')} ({state}): "
            f"{with_names(str(trig.get('reason', '')), devices)}"
        )
    conditions = result.get("conditions") or ()
    lines.append("Conditions:" if conditions else "Conditions: none")
    for cond in conditions:
        verdict = "holds" if cond.get("holds") else "FAILS"
        lines.append(
            f"  {cond.get('index', 0) + 1}. {cond.get('type')} {verdict}: "
            f"{with_names(str(cond.get('reason', '')), devices)}"
        )
    lines.append("Actions (not run by a dry run):")
    for action in result.get("actions") or ():
        lines.append(f"  {action_words(action, devices)}")
    if result.get("running"):
        lines.append(f"Runs going now: {result['running']}")
    return lines
