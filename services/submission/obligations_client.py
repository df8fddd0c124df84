"""Is this period open for this VRN, and when is it due? Asked of the obligations service
(its cache spares HMRC's rate budget), on the caller's behalf with the caller's token."""

from __future__ import annotations

from datetime import date

import httpx

from services.common.errors import ProblemError


class ObligationsClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def due_date(
        self, vrn: str, period_key: str, authorization: str, device_headers: dict[str, str]
    ) -> date | None:
        """The due date of the open obligation `period_key`, or None when none is open."""
        # A Gov-Test-Scenario names what the *submission* should meet at the sandbox; on the
        # obligations read it would ask for an obligations scenario HMRC does not know.
        headers = {k: v for k, v in device_headers.items() if k.lower() != "gov-test-scenario"}
        try:
            r = await self.http.get(
                f"/v1/vat/{vrn}/obligations",
                params={"status": "O"},
                headers={"Authorization": authorization, **headers},
            )
        except httpx.HTTPError as exc:
            reason = f"the obligations service is unreachable ({type(exc).__name__})"
            raise unavailable(reason) from exc
        if r.status_code != 200:
            body = r.json() if "json" in r.headers.get("content-type", "") else {}
            if r.status_code in (401, 403, 404, 409, 422):
                # The caller's own problem (no access to this VRN, no HMRC connection…).
                raise ProblemError(
                    r.status_code,
                    str(body.get("code", "OBLIGATIONS_REFUSED")),
                    str(body.get("detail", "The obligations for this VRN could not be read.")),
                )
            raise unavailable(str(body.get("detail") or f"obligations answered {r.status_code}"))
        for obligation in r.json().get("obligations", []):
            if obligation.get("periodKey") == period_key and obligation.get("status") == "O":
                return date.fromisoformat(obligation["due"])
        return None


def unavailable(reason: str) -> ProblemError:
    return ProblemError(
        503,
        "OBLIGATIONS_UNAVAILABLE",
        f"Cannot check the period against HMRC's obligations right now: {reason}. "
        "Nothing was accepted; send the same request again later.",
        headers={"Retry-After": "30"},
    )
