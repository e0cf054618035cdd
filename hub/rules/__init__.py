"""The local rule engine: triggers, conditions, actions, durable timers, traces (see engine.py)."""

from __future__ import annotations

from hub.config import HubConfig
from hub.rules.engine import RulesEngine
from hub.rules.errors import RuleValidationError
from hub.rules.model import Rule
from hub.rules.notify import LogSink, Notice, NotificationSink, Notifier
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
