"""YAML import/export of rules, with validation errors that point at the line and field."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from hub.rules.errors import RuleValidationError
from hub.rules.model import READ_ONLY_KEYS, Rule
from hub.rules.problems import Path, Problem


class _Loader(yaml.SafeLoader):
    """SafeLoader, except that clock times (07:30) stay text instead of base-60 numbers."""


class _TooManyNodes(Exception):
    """The document expands (through aliases) to more values than its text could hold."""


def _to_python(
    node: yaml.Node, loader: _Loader, path: Path, marks: dict[Path, yaml.Mark], budget: list[int]
) -> Any:
    # Aliases (&a / *a) let a few hundred bytes stand for billions of values ("billion
    # laughs"): without them a document has fewer values than characters, so a budget of its
    # length refuses only alias bombs, at once, instead of the hub hanging as it expands them.
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooManyNodes
    marks[path] = node.start_mark
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, bool):
                # `on:`/`off:`/`yes:` keys: YAML 1.1 booleans, surely meant as text.
                key = key_node.value
            key = str(key)
            marks[(*path, key, "__key__")] = key_node.start_mark
            out[key] = _to_python(value_node, loader, (*path, key), marks, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(n, loader, (*path, i), marks, budget) for i, n in enumerate(node.value)
        ]
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith((":int", ":float")) and ":" in node.value:
            return node.value  # 07:30 is a time of day, not 450
        return loader.construct_object(node, deep=True)
    raise RuleValidationError([Problem("", "unsupported YAML node", node.start_mark.line + 1)])


Check = Callable[[Rule, Path], list[tuple[Path, str]]]


def load_rules_yaml(text: str, check: Check | None = None) -> list[Rule]:
    """Parse a YAML document (a list of rules, or {rules: [...]}) into validated rules.

    `check(rule, path)` may add problems that need more than the rule itself (the hub's
    location, the property vocabulary); they are reported with their lines too.
    """
    marks: dict[Path, yaml.Mark] = {}
    try:
        # The reader checks the characters as it is made: a control character is a YAMLError
        # here, not later.
        loader = _Loader(text)
    except yaml.YAMLError as err:
        raise RuleValidationError([Problem("", f"not valid YAML: {err}")]) from None
    try:
        node = loader.get_single_node()
        budget = [len(text) + 100]
        data = _to_python(node, loader, (), marks, budget) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise RuleValidationError(
            [Problem("", f"not valid YAML: {err.problem}", line, column)]
        ) from None
    except yaml.YAMLError as err:
        raise RuleValidationError([Problem("", f"not valid YAML: {err}")]) from None
    except _TooManyNodes:
        raise RuleValidationError(
            [Problem("", "the YAML's aliases (*name) expand to more values than it has "
                     "characters; write the rules out without aliases")]
        ) from None
    except (ValueError, TypeError) as err:
        # A scalar PyYAML's resolver takes for a number but cannot build (`0x_`).
        raise RuleValidationError([Problem("", f"not valid YAML: {err}")]) from None
    except RecursionError:
        raise RuleValidationError(
            [Problem("", "the YAML is nested too deeply to be rules; flatten it")]
        ) from None
    finally:
        loader.dispose()
    base: Path = ()
    if isinstance(data, Mapping) and "rules" in data:
        data, base = data["rules"], ("rules",)
    if data is None:
        return []
    if not isinstance(data, list):
        raise RuleValidationError(
            [Problem("", "the file must be a list of rules (or `rules:` with a list)", 1, 1)]
        )
    rules: list[Rule] = []
    problems: list[Problem] = []
    for i, item in enumerate(data):
        if isinstance(item, Mapping):
            item = {k: v for k, v in item.items() if k not in READ_ONLY_KEYS}
        try:
            rule = Rule.model_validate(item)
        except ValidationError as err:
            problems.extend(problems_from(err, item, (*base, i), marks))
            continue
        rules.append(rule)
        if check is not None:
            problems.extend(_problem(p, m, marks) for p, m in check(rule, (*base, i)))
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        if rule.id and rule.id in seen:
            path = (*base, i, "id")
            problems.append(_problem(path, f"duplicate id {rule.id!r}", marks))
        seen.setdefault(rule.id, i)
    if problems:
        raise RuleValidationError(problems)
    return rules


def problems_from(
    err: ValidationError,
    data: Any,
    base: Path = (),
    marks: Mapping[Path, yaml.Mark] | None = None,
) -> list[Problem]:
    """Turn pydantic errors into problems naming the field as written (and its line if known)."""
    out = []
    for e in err.errors():
        path = _clean_path(data, tuple(e["loc"]))
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field; check the spelling (see the rule format in the docs)"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown type; use one of {e.get('ctx', {}).get('expected_tags', '')}"
        out.append(_problem((*base, *path), msg, marks or {}))
    return out


def _clean_path(data: Any, loc: Sequence[Any]) -> Path:
    """Drop the discriminator tags pydantic puts in locations (triggers.0.state.to)."""
    out: list[str | int] = []
    node = data
    tagged: Any = None
    for part in loc:
        # pydantic names the union member before the field; skip it once per mapping.
        if isinstance(node, Mapping) and node is not tagged and node.get("type") == part:
            tagged = node
            continue
        out.append(part)
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _problem(path: Path, message: str, marks: Mapping[Path, yaml.Mark]) -> Problem:
    mark = marks.get((*path, "__key__")) or _nearest(path, marks)
    field = ".".join(str(p) for p in path)
    if mark is None:
        return Problem(field, message)
    return Problem(field, message, mark.line + 1, mark.column + 1)


def _nearest(path: Path, marks: Mapping[Path, yaml.Mark]) -> yaml.Mark | None:
    # A missing field has no mark of its own: point at the closest enclosing one.
    for n in range(len(path), -1, -1):
        mark = marks.get(path[:n])
        if mark is not None:
            return mark
    return None


def dump_rules_yaml(rules: Iterable[Rule]) -> str:
    """A YAML document that `load_rules_yaml` reads back into the same rules."""
    docs = [r.to_doc() for r in rules]
    return yaml.safe_dump(
        {"rules": docs}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
