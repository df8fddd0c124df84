"""HMRC's query rules checked here, so a bad request never costs an HMRC call.

The rules are HMRC's own (services/common/hmrc_validation, shared with the simulator), and
the answer is HMRC's error mapped the way the gateway maps it, so a client sees one code
whether the platform or HMRC caught the mistake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.common import hmrc_validation
from services.common.errors import ProblemError
from services.common.hmrc_error_map import map_error
from services.common.hmrc_errors import HmrcError, Rejected


def _problem(error: HmrcError) -> ProblemError:
    mapped = map_error(error.status, error.body)
    return ProblemError(mapped.status, mapped.code, mapped.message, action=mapped.action)


@dataclass(frozen=True)
class ObligationsQuery:
    start: date | None
    end: date | None
    status: str | None

    def as_params(self) -> dict[str, str]:
        params = {"status": self.status} if self.status else {}
        if self.start and self.end:
            params |= {"from": self.start.isoformat(), "to": self.end.isoformat()}
        return params


def check_vrn(vrn: str) -> str:
    try:
        hmrc_validation.vrn(vrn)
    except Rejected as rejected:
        raise _problem(rejected.error) from None
    return vrn


def obligations_query(from_: str | None, to: str | None, status: str | None) -> ObligationsQuery:
    try:
        q = hmrc_validation.obligations_query(from_, to, status)
    except Rejected as rejected:
        raise _problem(rejected.error) from None
    return ObligationsQuery(q.start, q.end, q.status)


def financial_query(from_: str | None, to: str | None, today: date) -> dict[str, str]:
    try:
        start, end = hmrc_validation.financial_query(from_, to, today)
    except Rejected as rejected:
        raise _problem(rejected.error) from None
    return {"from": start.isoformat(), "to": end.isoformat()}
