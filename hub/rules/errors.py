"""Errors of the rule engine, all rooted in the hub's error tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hub.errors import Invalid

if TYPE_CHECKING:
    from hub.rules.problems import Problem


class RuleValidationError(Invalid):
    """A rule (or a YAML file of rules) is not valid; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"the rule is not valid: {shown}{more}",
            details={"errors": [p.to_dict() for p in problems]},
        )
        self.problems = list(problems)
