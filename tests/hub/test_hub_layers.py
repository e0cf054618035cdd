"""The hub's core never imports the plug-ins: integration errors live in hub.model."""

from __future__ import annotations

import ast
from pathlib import Path

import hub.model
import integrations.errors
from hub.model import errors as model_errors

HUB = Path(__file__).resolve().parents[2] / "hub"
#: The composition roots: the CLI wires the demo's emulators together (app.py names the
#: integrations by string and loads them on demand).
COMPOSITION = {HUB / "cli"}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_hub_module_outside_the_cli_imports_integrations() -> None:
    offenders = {}
    for path in HUB.rglob("*.py"):
        if any(root in path.parents for root in COMPOSITION):
            continue
        bad = {m for m in _imported_modules(path) if m.split(".")[0] == "integrations"}
        if bad:
            offenders[str(path.relative_to(HUB.parent))] = sorted(bad)
    assert not offenders, f"hub modules importing the plug-ins: {offenders}"


def test_integration_errors_are_the_interface_errors() -> None:
    # One class each: what an integration raises is what the registry catches.
    assert integrations.errors.CommandFailed is model_errors.CommandFailed
    assert hub.model.CommandFailed is model_errors.CommandFailed
    assert integrations.errors.DeviceUnreachable is model_errors.DeviceUnreachable
    assert issubclass(integrations.errors.ProtocolError, model_errors.IntegrationError)
