"""The VAT (MTD) API: obligations, submit and view a return, liabilities, payments.

Each operation follows vat-api's order: the VRN's format, then whether the caller may act
for that VRN, then the request's own validation, then what the sandbox's downstream stub
answers (Gov-Test-Scenario), then the stored state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from services.common import hmrc_errors as E
from services.common import hmrc_validation as validation
from services.common.hmrc_errors import Rejected
from services.hmrc_sandbox import jsonbody, obligations, scenarios
from services.hmrc_sandbox.gateway import Answer, Call, json_content_type, read_body
from services.hmrc_sandbox.records import StoredReturn

RECEIPT_SIGNATURE = "This has been deprecated - DO NOT USE"


def _vrn(call: Call) -> str:
    """The VRN's format (checked before authorisation), then the caller's enrolment."""
    vrn: str = call.request.path_params["vrn"]
    validation.vrn(vrn)
    user = call.user
    if user is None or not user.mtd_vat or user.vrn != vrn:
        raise Rejected(E.CLIENT_OR_AGENT_NOT_AUTHORISED)
    return vrn


def _scenario(call: Call) -> str:
    """The Gov-Test-Scenario asked for; a DES answer injected through the control API wins."""
    scenario = scenarios.of(call.endpoint.name, call.request.headers.get(scenarios.HEADER))
    faults = call.sandbox.faults
    des = faults.downstream(faults.for_endpoint(call.endpoint.name))
    if des is not None:
        raise Rejected(E.DOWNSTREAM[call.endpoint.name][des])
    return scenario


async def retrieve_obligations(call: Call) -> Answer:
    vrn = _vrn(call)
    params = call.request.query_params
    query = validation.obligations_query(params.get("from"), params.get("to"), params.get("status"))
    scenario = _scenario(call)
    if scenario == "INSOLVENT_TRADER":
        raise Rejected(E.INSOLVENT_TRADER)
    if scenario == "NOT_FOUND":
        raise Rejected(E.OBLIGATIONS_NOT_FOUND)
    sandbox = call.sandbox
    if scenario == scenarios.DEFAULT:
        assert call.user is not None
        calendar = obligations.live(
            call.user,
            sandbox.state.returns_by_vrn.get(vrn, {}),
            sandbox.clock.now(),
            sandbox.fulfilment_lag,
        )
        found = obligations.select(calendar, query.start, query.end, query.status)
    else:
        canned = obligations.scenario(scenario) or []
        found = obligations.select(canned, None, None, query.status)
    if not found:
        raise Rejected(E.OBLIGATIONS_NOT_FOUND)
    return Answer(200, {"obligations": [o.as_hmrc() for o in found]})


async def submit_return(call: Call) -> Answer:
    request, sandbox = call.request, call.sandbox
    if not json_content_type(request):
        raise Rejected(E.INVALID_BODY_TYPE)
    raw = await read_body(request, sandbox.settings.max_body_bytes)
    try:
        body = jsonbody.loads(raw)
    except jsonbody.MalformedJson:
        raise Rejected(E.MALFORMED_JSON) from None
    vrn = _vrn(call)
    fields = validation.return_body(body)
    scenario = _scenario(call)
    outcome = {
        "INVALID_VRN": E.SUBMIT_INVALID_VRN,
        "INVALID_PERIODKEY": E.SUBMIT_INVALID_PERIODKEY,
        "INVALID_PAYLOAD": E.SUBMIT_INVALID_PAYLOAD,
        "DUPLICATE_SUBMISSION": E.DUPLICATE_SUBMISSION,
        "TAX_PERIOD_NOT_ENDED": E.TAX_PERIOD_NOT_ENDED,
        "INSOLVENT_TRADER": E.INSOLVENT_TRADER,
    }.get(scenario)
    if outcome is not None:
        raise Rejected(outcome)

    period_key: str = fields["periodKey"]
    key = (vrn, period_key)
    if key in sandbox.state.returns:
        sandbox.counters.duplicates[key] += 1
        raise Rejected(E.DUPLICATE_SUBMISSION)

    now = sandbox.clock.now()
    owed = fields["totalVatDue"] > fields["vatReclaimedCurrPeriod"]
    net: Decimal = fields["netVatDue"]
    record = StoredReturn(
        vrn=vrn,
        period_key=period_key,
        body=jsonbody.dumps({name: fields[name] for name in validation.RETURN_FIELDS}),
        received_at=now,
        processing_date=now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000",
        form_bundle_number=sandbox.ids.digits(12),
        charge_ref_number=sandbox.ids.alnum(16) if owed and net > 0 else None,
        payment_indicator=("DD" if owed else "BANK") if net > 0 else None,
        client_id=call.client_id,
    )
    # Claim the period in memory before the write, so a concurrent second submission is a
    # duplicate; give the claim back if the write fails.
    sandbox.state.add(record)
    try:
        await sandbox.store.put(record)
    except BaseException:
        sandbox.state.discard_return(vrn, period_key)
        raise
    sandbox.counters.returns_stored[key] += 1

    receipt = {
        "processingDate": record.processing_date,
        "formBundleNumber": record.form_bundle_number,
    }
    if record.payment_indicator is not None:
        receipt["paymentIndicator"] = record.payment_indicator
    if record.charge_ref_number is not None:
        receipt["chargeRefNumber"] = record.charge_ref_number
    headers = {
        "Receipt-ID": sandbox.ids.uuid(),
        "Receipt-Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Receipt-Signature": RECEIPT_SIGNATURE,
    }
    return Answer(201, receipt, headers)


async def view_return(call: Call) -> Answer:
    vrn = _vrn(call)
    period_key: str = call.request.path_params["periodKey"]
    validation.view_period_key(period_key)
    scenario = _scenario(call)
    if scenario == "DATE_RANGE_TOO_LARGE":
        raise Rejected(E.VIEW_DATE_RANGE_TOO_LARGE)
    if scenario == "INSOLVENT_TRADER":
        raise Rejected(E.INSOLVENT_TRADER)
    stored = call.sandbox.state.returns.get((vrn, period_key))
    if stored is None:
        raise Rejected(E.RETURN_NOT_FOUND)
    return Answer(200, stored.body.encode())


async def retrieve_liabilities(call: Call) -> Answer:
    return _financial(call, "liabilities", scenarios.liabilities)


async def retrieve_payments(call: Call) -> Answer:
    return _financial(call, "payments", scenarios.payments)


def _financial(
    call: Call, kind: str, lookup: Callable[[str, date, date], list[dict[str, Any]]]
) -> Answer:
    """Liabilities and payments follow the same rules; only the data differs."""
    _vrn(call)
    params = call.request.query_params
    start, end = validation.financial_query(
        params.get("from"), params.get("to"), call.sandbox.clock.today()
    )
    scenario = _scenario(call)
    if scenario == "INSOLVENT_TRADER":
        raise Rejected(E.INSOLVENT_TRADER)
    found = lookup(scenario, start, end)
    if not found:
        raise Rejected(E.FINANCIAL_NOT_FOUND)
    return Answer(200, {kind: found})
