"""Where a rule is wrong: a field path, and for YAML the line and column.

Apart from yaml_io so that checking a rule does not load the YAML parser: a hub loads it only
when rules are imported or exported as YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: where (field path, line, column) and what is wrong."""

    field: str
    message: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "field": self.field,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"
