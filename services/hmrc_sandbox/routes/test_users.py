"""Create Test User API (application-restricted)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from services.common import hmrc_errors as E
from services.common.hmrc_errors import Rejected
from services.hmrc_sandbox import jsonbody, test_users
from services.hmrc_sandbox.gateway import (
    Answer,
    Call,
    Endpoint,
    handle,
    json_content_type,
    read_body,
)

router = APIRouter(tags=["Create Test User API"])

CREATE_ORGANISATION = Endpoint("create_test_user")


async def _create_organisation(call: Call) -> Answer:
    request, sandbox = call.request, call.sandbox
    raw = await read_body(request, sandbox.settings.max_body_bytes)
    body = None
    if raw.strip():
        if not json_content_type(request):
            raise Rejected(E.INVALID_BODY_TYPE)
        try:
            body = jsonbody.loads(raw)
        except jsonbody.MalformedJson:
            raise Rejected(E.MALFORMED_JSON) from None
    services = test_users.requested_services(body)
    user, answer = test_users.create_organisation(
        sandbox.ids, sandbox.clock.now(), services, sandbox.state.users_by_vrn
    )
    await sandbox.store.put(user)
    sandbox.state.add(user)
    return Answer(201, answer)


@router.post(
    "/create-test-user/organisations",
    summary="Create a test user which is an organisation",
    status_code=201,
)
async def create_organisation(request: Request) -> Response:
    return await handle(request, CREATE_ORGANISATION, _create_organisation)
