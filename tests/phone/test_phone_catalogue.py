"""The message catalogue: every key in English is in Japanese and the other way round, every
key the code names exists, and the Japanese really is Japanese (not English copied over)."""

from __future__ import annotations

import re

from phone_kit import catalogue

from relay.webapp import STATIC_DIR

JS = STATIC_DIR / "js"
KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Language-neutral strings: the product name and the names of the languages themselves.
SAME_IN_BOTH = {"app.name", "language.en", "language.ja"}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    messages = catalogue()
    assert set(messages) == {"en", "ja"}
    en, ja = messages["en"], messages["ja"]
    assert len(en) > 150
    assert set(en) - set(ja) == set(), "missing in Japanese"
    assert set(ja) - set(en) == set(), "missing in English"
    for key, text in en.items():
        assert text.strip(), key
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", ja[key])), key


def test_japanese_is_japanese() -> None:
    ja = catalogue()["ja"]
    untranslated = [
        key
        for key, text in ja.items()
        if key not in SAME_IN_BOTH and not KANA_OR_KANJI.search(text)
    ]
    assert untranslated == []


def test_every_key_the_code_names_exists() -> None:
    en = catalogue()["en"]
    namespaces = {key.split(".")[0] for key in en}
    used: set[str] = set()
    for path in JS.rglob("*.js"):
        if path.name == "messages.js":
            continue
        for literal in re.findall(r'"([a-z]+\.[a-zA-Z0-9_.]+)"', path.read_text(encoding="utf-8")):
            if literal.split(".")[0] in namespaces and not literal.endswith(".js"):
                used.add(literal)
    assert len(used) > 100
    assert sorted(used - set(en)) == []


def test_every_vocabulary_property_and_choice_has_a_label() -> None:
    from hub.model.vocabulary import VOCABULARY

    en = catalogue()["en"]
    for name, spec in VOCABULARY.items():
        assert f"prop.{name}" in en, name
        for choice in spec.choices or ():
            if choice.isdigit():
                continue  # fan levels are shown as numbers
            assert f"choice.{name}.{choice}" in en or f"choice.{choice}" in en, (name, choice)
