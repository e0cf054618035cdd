"""Every Alexa message the voice code produces in this suite is checked against Amazon's schema.

An autouse fixture wraps each public message builder of `relay.voice.alexa` (the dispatcher and
the webhooks call them through the module), validates every message with Draft4Validator as it
is produced, and fails the test at teardown if any did not validate.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from skip_policy import need, unchecked
from voice_testkit import SCHEMA_PATH

from relay.voice import alexa

BUILDERS = (
    "response",
    "state_report",
    "discover_response",
    "accept_grant_response",
    "accept_grant_failed",
    "error_response",
    "credential_error",
    "change_report",
)


class AlexaValidator:
    """Draft-04 validation of skill->Alexa messages, keeping every failure."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import Draft4Validator

        Draft4Validator.check_schema(schema)
        self.validator = Draft4Validator(schema)
        self.checked: list[dict[str, Any]] = []
        self.failures: list[str] = []

    def errors(self, message: Any) -> list[str]:
        """Schema errors of one message (empty when valid)."""
        return [f"{list(e.absolute_path)}: {e.message[:300]}"
                for e in self.validator.iter_errors(message)]

    def check(self, message: Any, where: str) -> None:
        """Validate and remember the outcome."""
        self.checked.append(message)
        problems = self.errors(message)
        if problems:
            self.failures.append(f"{where}: {problems[:3]}\n{json.dumps(message)[:1500]}")


@pytest.fixture(scope="session")
def _alexa_schema() -> dict[str, Any]:
    if not SCHEMA_PATH.is_file():
        need("testdata", f"the Alexa schema {SCHEMA_PATH} not found")
    return dict(json.loads(SCHEMA_PATH.read_text("utf-8")))


@pytest.fixture(autouse=True)
def alexa_schema_check(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AlexaValidator | None]:
    """Validate every Alexa message built during the test; fail at teardown if one is invalid."""
    if not SCHEMA_PATH.is_file():
        # The test still runs, but its Alexa messages go unchecked: counted, and a failure
        # where the test data is required.
        unchecked("testdata", "Alexa schema validation of the messages built")
        yield None
        return
    validator = AlexaValidator(request.getfixturevalue("_alexa_schema"))

    def wrap(name: str, builder: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(builder)
        def checked(*args: Any, **kwargs: Any) -> Any:
            message = builder(*args, **kwargs)
            if message is not None:
                validator.check(message, name)
            return message

        return checked

    for name in BUILDERS:
        monkeypatch.setattr(alexa, name, wrap(name, getattr(alexa, name)))
    yield validator
    assert not validator.failures, "Alexa messages failed the schema:\n" + "\n".join(
        validator.failures
    )
