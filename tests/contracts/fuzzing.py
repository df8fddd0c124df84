"""Property-based API testing of one operation with schemathesis: generated requests
(valid and invalid) against a real service, each response checked against the contract.

Hypothesis drives synchronous HTTP calls, so this runs in a worker thread while the test's
event loop keeps serving the services."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import requests
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup

# Generated cases per operation and generation mode. CI runs a quick pass; the full pass is
# `CONTRACT_EXAMPLES=300 pytest tests/contracts/test_api_properties.py`.
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "12"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Findings:
    """Distinct failures of one operation (the same failure is reported once)."""

    cases: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, case: Case[Any], failure: Failure) -> None:
        key = f"{failure.title}: {failure.message[:200]}"
        if key not in self.failures:
            self.failures[key] = f"{key}\n    reproduce: {case.as_curl_command()}"


def exercise(
    operation: APIOperation[Any, Any, Any, Any],
    base_url: str,
    headers: Callable[[Case[Any]], dict[str, str]],
    overrides: dict[str, Any],
    examples: int = EXAMPLES,
) -> Findings:
    found = Findings()
    session = requests.Session()
    path_params = {k: v for k, v in overrides.items() if f"{{{k}}}" in operation.path}
    strategies = [operation.as_strategy(GenerationMode.NEGATIVE)]
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    if path_params:
        # Real resources (a connected VRN, the tenant) as well as random identifiers.
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path_params)
        )
    strategies.append(positive)

    @settings(
        max_examples=examples * len(strategies),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # every failure is kept; no shrinking
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=st.one_of(strategies))
    def run(case: Case[Any]) -> None:
        found.cases += 1
        try:
            case.call_and_validate(
                base_url=base_url, session=session, headers=headers(case), checks=CHECKS, timeout=30
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                found.add(case, failure)
        except Failure as failure:
            found.add(case, failure)

    try:
        run()
    finally:
        session.close()
    return found
