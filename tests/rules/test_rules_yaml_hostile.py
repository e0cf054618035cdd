"""Hostile rule YAML (found by fuzz/parsers.py): refused with a reason, at once, never a crash."""

from __future__ import annotations

import time

import pytest

from hub.rules import RuleValidationError, load_rules_yaml

LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
)  # nine levels of nine aliases: 387 million values from 400 bytes


def test_alias_bomb_is_refused_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(RuleValidationError, match="aliases"):
        load_rules_yaml(LAUGHS)
    assert time.monotonic() - start < 2  # before: expanded until memory ran out


def test_a_few_aliases_still_work() -> None:
    text = (
        "- id: a\n  triggers: [&t {type: event, name: x}]\n  actions: [&n {type: notify, "
        "message: hi}]\n- id: b\n  triggers: [*t]\n  actions: [*n]\n"
    )
    assert [r.id for r in load_rules_yaml(text)] == ["a", "b"]


@pytest.mark.parametrize(
    "text",
    [
        "- {id:\x00x, triggers: [], actions: []}\n",  # a control character (ReaderError)
        "- {id: x, triggers: [0x_], actions: []}\n",  # an 'int' PyYAML cannot build
    ],
)
def test_unparseable_yaml_is_a_validation_error(text: str) -> None:
    with pytest.raises(RuleValidationError, match="not valid YAML"):
        load_rules_yaml(text)
