"""Shared test setup. Being here puts tests/ on sys.path, so suites can share helper modules
such as `mdns_netns`.

Every skip is counted and named by what is missing; a skip of a part the run requires fails
(`skip_policy`: HOMEHUB_REQUIRE_TESTDATA=1, HOMEHUB_REQUIRE_BROWSER=1, HOMEHUB_REQUIRE=all)."""

from skip_policy import pytest_configure

__all__ = ["pytest_configure"]
