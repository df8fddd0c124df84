"""Test Fraud Prevention Headers API: validate a request's headers now, or get feedback on
the headers of the VAT API requests this application made recently."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from services.common import fraud_prevention as fraud_headers
from services.common.hmrc_errors import HmrcError, Rejected
from services.hmrc_sandbox.gateway import Answer, Call, Endpoint, handle

router = APIRouter(
    prefix="/test/fraud-prevention-headers", tags=["Test Fraud Prevention Headers API"]
)

VALIDATE = Endpoint("fraud_headers_validate")
FEEDBACK = Endpoint("fraud_headers_feedback")


async def _validate(call: Call) -> Answer:
    report = fraud_headers.validate(dict(call.request.headers), call.sandbox.clock.now())
    return Answer(200, report.as_json())


async def _feedback(call: Call) -> Answer:
    wanted = call.request.query_params.get("connectionMethod")
    if wanted is not None and wanted not in fraud_headers.METHODS:
        raise Rejected(
            HmrcError(400, {"code": "INVALID_REQUEST", "message": "connectionMethod is invalid"})
        )
    requests = []
    for seen in reversed(call.sandbox.fraud_feedback.get(call.client_id, ())):
        headers = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in seen["raw_headers"]
            if k.startswith(b"gov-")
        }
        report = fraud_headers.validate(headers, seen["requestTimestamp"])
        if wanted is not None and report.connection_method != wanted:
            continue
        result = report.as_json()
        del result["specVersion"]
        requests.append(
            {
                "path": seen["path"],
                "method": seen["method"],
                "requestTimestamp": seen["requestTimestamp"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                + "Z",
                **result,
            }
        )
    body = {"specVersion": fraud_headers.SPEC_VERSION, "requests": requests}
    if wanted is not None:
        body["connectionMethod"] = wanted
    return Answer(200, body)


@router.get("/validate", summary="Validate this request's fraud prevention headers")
async def validate(request: Request) -> Response:
    return await handle(request, VALIDATE, _validate)


@router.get(
    "/vat-mtd/validation-feedback",
    summary="Feedback on the fraud prevention headers of recent VAT (MTD) API requests",
)
async def feedback(request: Request) -> Response:
    return await handle(request, FEEDBACK, _feedback)
