"""The local rule engine: triggers, conditions, actions, durable timers, traces (see engine.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.config import HubConfig
from hub.rules.engine import RulesEngine
from hub.rules.errors import RuleValidationError
from hub.rules.model import Rule
from hub.rules.notify import LogSink, Notice, NotificationSink, Notifier

if TYPE_CHECKING:
    from hub.rules.yaml_io import dump_rules_yaml, load_rules_yaml

__all__ = [
    "LogSink",
    "Notice",
    "NotificationSink",
    "Notifier",
    "Rule",
    "RuleValidationError",
    "RulesEngine",
    "dump_rules_yaml",
    "load_rules_yaml",
    "rules_component",
]


def rules_component(config: HubConfig) -> RulesEngine:
    """The factory `hub.components.default_components` calls: every hub runs its rules."""
    return RulesEngine()


def __getattr__(name: str) -> Any:
    # The YAML parser loads on first use: most hubs never import or export rules as YAML.
    if name in ("dump_rules_yaml", "load_rules_yaml"):
        from hub.rules import yaml_io

        return getattr(yaml_io, name)
    raise AttributeError(f"module 'hub.rules' has no attribute {name!r}")
