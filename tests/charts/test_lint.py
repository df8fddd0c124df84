"""`helm lint --strict` over the values matrix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.charts.cases import CASES
from tests.charts.chart import lint

# Helm's INFO (1) is advice such as "icon is recommended"; WARNING (2) and ERROR (3) fail.
WARNING = 2


@pytest.mark.parametrize("values", CASES.values(), ids=CASES.keys())
def test_lint_strict(values: dict[str, Any]) -> None:
    report = lint(values)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= WARNING] == []


def test_lint_reports_schema_violations() -> None:
    report = lint({"image": {"tag": "latest"}})
    assert report["errors"], "a `latest` tag must fail the lint"
    assert any("/image/tag" in error for error in report["errors"])
