"""The package's public surface stays deliberate and importable."""

from __future__ import annotations

import importlib

import integrations.broadlink as pkg

MODULES = ["packet", "emulator", "client", "integration", "profiles", "captures", "cli", "demo"]


def test_all_names_exist_and_are_sorted() -> None:
    assert pkg.__all__ == sorted(pkg.__all__, key=lambda n: (not n.isupper(), n))
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None


def test_every_module_imports_on_its_own() -> None:
    for module in MODULES:
        importlib.import_module(f"integrations.broadlink.{module}")


def test_hub_loads_the_integration_by_section_name() -> None:
    from hub.app import load_integration

    integ = load_integration("broadlink")
    assert isinstance(integ, pkg.BroadlinkIntegration)
    assert integ.domain == "broadlink"
