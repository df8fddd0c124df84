"""The HMRC gateway's internal API, as the outcomes the submission service acts on.

The line that matters is between "never reached HMRC" (safe to send again later) and
"may have reached HMRC" (uncertain: ask before sending again). A request that never
reached the gateway, or that the gateway says it did not send (`sent: false`), is the
first; a lost answer from the gateway, or a 5xx the gateway did not explain, is the second.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from services.common.security.service_token import ServiceToken
from services.submission.hmrc_port import (
    Accepted,
    Found,
    NotFound,
    Rejected,
    RetryLater,
    SubmitOutcome,
    SubmitRequest,
    Unavailable,
    Uncertain,
    ViewOutcome,
)

# Returns due within this many days go in the governor's deadline class.
DEADLINE_DAYS = 3
PRIORITY_DEADLINE, PRIORITY_NORMAL = 0, 1


def _retry_after(response: httpx.Response, default: float = 5.0) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", default)))
    except ValueError:
        return default


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def priority_for(due: date, today: date | None = None) -> int:
    today = today or datetime.now(UTC).date()
    return PRIORITY_DEADLINE if due - today <= timedelta(days=DEADLINE_DAYS) else PRIORITY_NORMAL


class GatewayClient:
    def __init__(
        self,
        gateway_url: str,
        auth: httpx.AsyncClient,
        client_id: str,
        client_secret: str | None,
        *,
        submit_timeout: float = 120.0,
    ) -> None:
        # A submit may wait for a rate slot before HMRC answers: the read timeout covers both.
        self.http = httpx.AsyncClient(
            base_url=gateway_url.rstrip("/"),
            timeout=httpx.Timeout(connect=3.0, read=submit_timeout, write=10.0, pool=5.0),
        )
        self.token = ServiceToken(auth, client_id, client_secret)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _post(
        self, path: str, body: dict[str, Any], device_headers: dict[str, str] | None
    ) -> httpx.Response:
        # The user's Gov-Client-* headers travel as headers, as they came to the platform.
        headers = dict(device_headers or {})
        headers["Authorization"] = f"Bearer {await self.token.get()}"
        response = await self.http.post(path, json=body, headers=headers)
        if response.status_code == 401:  # our token expired early: one renewal
            headers["Authorization"] = f"Bearer {await self.token.get(renew=True)}"
            response = await self.http.post(path, json=body, headers=headers)
        return response

    async def submit(self, request: SubmitRequest) -> SubmitOutcome:
        context = request.client_context
        body = {
            "tenant_id": request.tenant_id,
            "return": request.vat_return,
            "priority_class": priority_for(request.due_date),
            "due_date": request.due_date.isoformat(),
            "submission_id": request.submission_id,
            "user_id": context.get("user_id"),
            "device": context.get("device"),
            "connection": context.get("connection"),
        }
        try:
            response = await self._post(
                f"/internal/v1/vat/{request.vrn}/returns", body, context.get("headers")
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return RetryLater(5.0, f"GATEWAY_UNREACHABLE: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Uncertain(f"GATEWAY_NO_ANSWER: {type(exc).__name__}")
        return self._outcome(response)

    @staticmethod
    def _outcome(response: httpx.Response) -> SubmitOutcome:
        status = response.status_code
        problem = _problem(response)
        if status == 201:
            return Accepted(
                {
                    **problem.get("receipt", {}),
                    "receiptHeaders": problem.get("receipt_headers") or {},
                    "correlationId": problem.get("correlation_id"),
                }
            )
        outcome = problem.get("outcome")
        code = str(problem.get("hmrc_code") or problem.get("code") or f"HTTP_{status}")
        if outcome == "uncertain":
            return Uncertain(str(problem.get("reason") or code))
        if problem.get("sent") is False or (status in (401, 403, 429) and outcome is None):
            # Never reached HMRC (breaker open, throttled, no slot, or our own credentials).
            return RetryLater(_retry_after(response), code)
        if outcome is None and 400 <= status < 500:
            # Refused before HMRC (invalid fraud headers, VRN not connected): nothing was
            # sent, and sending again will not help until the client fixes it.
            return Rejected(
                code=code,
                message=str(problem.get("detail") or code),
                status=status,
                errors=list(problem.get("errors") or []),
            )
        if outcome == "rejected":
            return Rejected(
                code=code,
                message=str(problem.get("detail") or code),
                status=status,
                errors=list(problem.get("errors") or []),
            )
        # A failure the gateway did not explain: it may have sent the return.
        return Uncertain(f"GATEWAY_{status}")

    async def view(
        self, tenant_id: str, vrn: str, period_key: str, context: dict[str, Any] | None = None
    ) -> ViewOutcome:
        try:
            response = await self.view_response(tenant_id, vrn, period_key, context)
        except httpx.HTTPError as exc:
            return Unavailable(f"GATEWAY_UNREACHABLE: {type(exc).__name__}")
        if response.status_code == 200:
            return Found(response.json())
        problem = _problem(response)
        if response.status_code == 404 and problem.get("code") == "RETURN_NOT_FOUND":
            return NotFound()
        return Unavailable(
            str(problem.get("code") or f"HTTP_{response.status_code}"),
            after_s=_retry_after(response, 10.0),
        )

    async def view_response(
        self, tenant_id: str, vrn: str, period_key: str, context: dict[str, Any] | None = None
    ) -> httpx.Response:
        """HMRC's view of one period's return, as the gateway answered (raises HTTPError)."""
        context = context or {}
        body = {
            "tenant_id": tenant_id,
            "user_id": context.get("user_id"),
            "device": context.get("device"),
            "connection": context.get("connection"),
        }
        path = f"/internal/v1/vat/{vrn}/returns/{period_key.replace('#', '%23')}/view"
        return await self._post(path, body, context.get("headers"))

    async def status(self) -> dict[str, Any] | None:
        """The gateway's breakers and governor, or None when the gateway does not answer."""
        try:
            r = await self.http.get(
                "/internal/v1/status",
                headers={"Authorization": f"Bearer {await self.token.get()}"},
                timeout=3.0,
            )
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        answer: dict[str, Any] = r.json()
        return answer
