"""The package's public surface stays importable and honest; the CLI hook has its contract."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil

import tui


def test_all_names_exist() -> None:
    for name in tui.__all__:
        assert getattr(tui, name) is not None, name
    assert sorted(tui.__all__) == tui.__all__


def test_every_module_imports() -> None:
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        importlib.import_module(info.name)


def test_cli_register_contract() -> None:
    from tui.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["tui", "--url", "http://127.0.0.1:1"])
    assert list(inspect.signature(args.func).parameters) == ["args"]
