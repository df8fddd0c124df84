"""Checking the fraud prevention headers before HMRC sees them, and what to do about the
answer: strict refuses to call HMRC with errors, advisory calls and records.

The rules (HMRC's v3.3 specification) live in `services.common.fraud_prevention`, shared
with the simulator's validation endpoint; this module applies the gateway's policy to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from services.common import fraud_prevention
from services.common.errors import ProblemError

Result = Literal["valid", "valid_with_warnings", "invalid"]


@dataclass(frozen=True)
class ValidationResult:
    result: Result
    errors: list[dict[str, Any]] = field(default_factory=list)  # {code, message, headers}
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, errors: list[dict[str, Any]], warnings: list[dict[str, Any]]) -> ValidationResult:
        result: Result = "invalid" if errors else "valid_with_warnings" if warnings else "valid"
        return cls(result, errors, warnings)

    def as_json(self) -> dict[str, Any]:
        return {"result": self.result, "errors": self.errors, "warnings": self.warnings}


Validator = Callable[[str, Mapping[str, str]], ValidationResult]


def spec_rules(method: str, headers: Mapping[str, str]) -> ValidationResult:
    """HMRC's v3.3 rules (the same validator the simulator's validation endpoint uses)."""
    report = fraud_prevention.validate(dict(headers), datetime.now(UTC))
    return ValidationResult.of(
        [f.as_json() for f in report.errors], [f.as_json() for f in report.warnings]
    )


Mode = Literal["strict", "advisory"]


def enforce(mode: Mode, outcome: ValidationResult) -> None:
    """Strict mode: refuse (422, naming each header) before anything goes to HMRC."""
    if mode == "strict" and outcome.errors:
        raise ProblemError(
            422,
            "FRAUD_HEADERS_INVALID",
            "HMRC's fraud prevention headers for this request are invalid; nothing was sent.",
            errors=outcome.errors,
            warnings=outcome.warnings,
        )
