"""Checking the fraud prevention headers before HMRC sees them, and what to do about the
answer: strict refuses to call HMRC with errors, advisory calls and records.

The rules live in one validator shared with the simulator (HMRC's v3.3 specification);
this module only needs a function `(connection method, headers) -> ValidationResult`.
Until it is wired in, `required_headers` checks what the specification's lists alone can
tell: every required header present and not empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.common.errors import ProblemError
from services.hmrc_gateway.fraud_headers import REQUIRED

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


def required_headers(method: str, headers: Mapping[str, str]) -> ValidationResult:
    given = {k.lower(): v for k, v in headers.items()}
    errors = []
    for name in REQUIRED.get(method, []):
        value = given.get(name.lower())
        if value is None:
            errors.append(
                {"code": "MISSING_HEADER", "message": "Header required", "headers": [name.lower()]}
            )
        elif not value.strip():
            errors.append(
                {
                    "code": "EMPTY_HEADER",
                    "message": "Value must not be empty",
                    "headers": [name.lower()],
                }
            )
    return ValidationResult.of(errors, [])


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
