"""VAT (MTD) API routes under /organisations/vat/{vrn}."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from services.hmrc_sandbox import vat_api
from services.hmrc_sandbox.gateway import Endpoint, handle

router = APIRouter(prefix="/organisations/vat/{vrn}", tags=["VAT (MTD) API"])

OBLIGATIONS = Endpoint("obligations", "read:vat", user_restricted=True, records_fraud_headers=True)
SUBMIT = Endpoint("submit_return", "write:vat", user_restricted=True, records_fraud_headers=True)
VIEW = Endpoint("view_return", "read:vat", user_restricted=True, records_fraud_headers=True)
LIABILITIES = Endpoint("liabilities", "read:vat", user_restricted=True, records_fraud_headers=True)
PAYMENTS = Endpoint("payments", "read:vat", user_restricted=True, records_fraud_headers=True)


@router.get("/obligations", summary="Retrieve VAT obligations")
async def obligations(request: Request) -> Response:
    return await handle(request, OBLIGATIONS, vat_api.retrieve_obligations)


@router.post("/returns", summary="Submit VAT return for period", status_code=201)
async def submit_return(request: Request) -> Response:
    return await handle(request, SUBMIT, vat_api.submit_return)


# HMRC's code answers a period key never submitted with an empty 404 (error catalogue).
@router.get(
    "/returns/{periodKey}",
    summary="View VAT Return",
    responses={404: {"description": "No return for this period key (an empty body)"}},
)
async def view_return(request: Request) -> Response:
    return await handle(request, VIEW, vat_api.view_return)


@router.get("/liabilities", summary="Retrieve VAT liabilities")
async def liabilities(request: Request) -> Response:
    return await handle(request, LIABILITIES, vat_api.retrieve_liabilities)


@router.get("/payments", summary="Retrieve VAT payments")
async def payments(request: Request) -> Response:
    return await handle(request, PAYMENTS, vat_api.retrieve_payments)
