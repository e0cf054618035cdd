"""The packages' __all__ lists name things that exist, and nothing public is left out."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["integrations.esphome", "hub.discovery"])
def test_all_is_honest(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names missing {name}"
    public = {n for n, v in vars(mod).items()
              if not n.startswith("_") and not isinstance(v, type(importlib))}
    assert public <= set(mod.__all__), f"exported but not in __all__: {public - set(mod.__all__)}"
