"""The checked-in OpenAPI documents are what the services' code generates."""

from __future__ import annotations

import difflib
import json

import pytest

from contracts import REGENERATE
from contracts.__main__ import main
from contracts.apps import SERVICES
from contracts.openapi_docs import checked_in, generate, path_of, render


@pytest.mark.parametrize("service", SERVICES)
def test_contract_matches_the_code(service: str) -> None:
    assert path_of(service).exists(), f"contracts/openapi/{service}.json is missing: {REGENERATE}"
    current, expected = path_of(service).read_text(), render(generate(service))
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            f"contracts/openapi/{service}.json",
            f"{service} (from the code)",
            n=2,
        )
    )
    assert not diff, (
        f"the {service} service's API differs from contracts/openapi/{service}.json; "
        f"if the change is meant, run `{REGENERATE}` and commit the result:\n{diff[:4000]}"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_contract_is_openapi_with_operations(service: str) -> None:
    document = checked_in(service)
    assert document["openapi"].startswith("3.1")
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) >= 3
    assert all(op.get("responses") for op in operations)
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids)), f"{service}: operation ids must be unique"


def test_check_mode_names_a_stale_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import contracts.openapi_docs as docs

    real = docs.generate
    # The audit service's code changes: `--check` must fail and name its document only.
    monkeypatch.setattr(
        docs, "generate", lambda s: {**real(s), "paths": {}} if s == "audit" else real(s)
    )
    assert main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "contracts/openapi/audit.json" in err and REGENERATE in err
    assert "submission.json" not in err


def test_public_paths_of_the_design_are_in_the_contracts() -> None:
    paths = {s: set(checked_in(s)["paths"]) for s in SERVICES}
    assert {"/v1/auth/token", "/v1/tenants", "/v1/connections"} <= paths["auth"]
    assert {"/v1/vat/{vrn}/obligations", "/v1/obligations/due"} <= paths["obligations"]
    assert {"/v1/vat/{vrn}/returns", "/v1/status"} <= paths["submission"]
    assert {"/v1/audit/events", "/v1/audit/verify"} <= paths["audit"]
    assert "/internal/v1/vat/{vrn}/returns" in paths["hmrc_gateway"]
    assert "/organisations/vat/{vrn}/returns" in paths["hmrc_sandbox"]
    for service in SERVICES:
        assert json.loads(path_of(service).read_text())["info"]["version"]
