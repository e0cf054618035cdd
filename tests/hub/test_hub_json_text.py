"""JSON text for shadows and traces: what orjson refuses is still written, as json.dumps would."""

from __future__ import annotations

import json
from datetime import date

from hub.store import json_text


def test_text_keys_and_json_values_round_trip() -> None:
    doc = {"run_id": "8a3f", "ts": 1.5, "steps": [{"action": 0, "result": "fired"}], "x": None}
    assert json.loads(json_text.dumps(doc)) == doc


def test_keys_that_are_not_text_are_written_as_text() -> None:
    # A named event's data may have integer keys; json.dumps writes them as strings, and so must
    # the fast path (orjson refuses them unless asked).
    doc = {"data": {1: "one", 2.5: "two and a half", None: "none"}}
    assert json.loads(json_text.dumps(doc)) == json.loads(json.dumps(doc))


def test_what_orjson_cannot_write_falls_back_to_the_standard_library() -> None:
    assert json.loads(json_text.dumps({"big": 2**70})) == {"big": 2**70}
    assert json.loads(json_text.dumps({"big": 2**70, 1: "a"})) == {"big": 2**70, "1": "a"}


def test_a_value_json_has_no_type_for_is_written_as_its_text() -> None:
    assert json.loads(json_text.dumps({"day": date(2026, 12, 6)})) == {"day": "2026-12-06"}
