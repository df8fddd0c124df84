"""Bad input gets HMRC's answers, never a 500 from the simulator itself."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hmrc_sandbox.helpers import Simulator, User, valid_return

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = list(valid_return("18A1"))


async def _user(simulator: Simulator) -> User:
    if "robust_user" not in simulator.extras:
        simulator.extras["robust_user"] = await simulator.connected_user()
    user: User = simulator.extras["robust_user"]
    return user


async def test_unknown_scenario_on_every_endpoint(simulator: Simulator) -> None:
    user = await _user(simulator)
    header = {"Gov-Test-Scenario": "SURPRISE_ME"}
    answers = [
        await simulator.vat(
            "GET", f"/{user.vrn}/obligations?status=O", user.access_token, headers=header
        ),
        await simulator.vat(
            "POST",
            f"/{user.vrn}/returns",
            user.access_token,
            headers=header,
            json=valid_return("Z001"),
        ),
        await simulator.vat("GET", f"/{user.vrn}/returns/Z001", user.access_token, headers=header),
        await simulator.vat(
            "GET",
            f"/{user.vrn}/liabilities?from=2017-01-02&to=2017-02-02",
            user.access_token,
            headers=header,
        ),
        await simulator.vat(
            "GET",
            f"/{user.vrn}/payments?from=2017-01-02&to=2017-02-02",
            user.access_token,
            headers=header,
        ),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json() == {
            "code": "RULE_INCORRECT_GOV_TEST_SCENARIO",
            "message": "The Gov-Test-Scenario was not found",
        }


async def test_huge_bodies_are_refused_before_reading_them(simulator: Simulator) -> None:
    user = await _user(simulator)
    huge = b'{"periodKey":"' + b"A" * (2 * 1024 * 1024) + b'"}'
    answer = await simulator.vat(
        "POST",
        f"/{user.vrn}/returns",
        user.access_token,
        content=huge,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json() == {"code": "INVALID_REQUEST", "message": "Request Entity Too Large"}

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(64):
            yield b" " * 4096

    streamed = await simulator.vat(
        "POST",
        f"/{user.vrn}/returns",
        user.access_token,
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


async def test_odd_requests_get_hmrc_answers(simulator: Simulator) -> None:
    user = await _user(simulator)
    path = f"/{user.vrn}/returns"
    cases = [
        (b"", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"NaN", "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),  # deeper than the parser goes
        (b'{"periodKey": "18A1"}', "application/xml", 415),
        (b'{"periodKey": "18A1"}', "", 415),
        (b"[]", "text/json", 400),
        (b"12", "application/json; charset=utf-8", 400),
    ]
    for body, content_type, status in cases:
        headers = {"Content-Type": content_type} if content_type else {}
        answer = await simulator.vat("POST", path, user.access_token, content=body, headers=headers)
        assert answer.status_code == status, (body[:20], answer.text)
        assert set(answer.json()) >= {"code", "message"}
    accept = await simulator.http.get(
        f"{simulator.url}/organisations/vat/{user.vrn}/obligations",
        headers={"Accept": "application/vnd.hmrc.1.0+xml"},
    )
    assert accept.status_code == 406


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=len(FIELDS)),
    base=st.booleans(),
)
async def test_any_json_return_is_answered_by_hmrc_rules(
    simulator: Simulator, body: dict[str, object], base: bool
) -> None:
    user = await _user(simulator)
    sent = {**valid_return("R001"), **body} if base else body
    answer = await simulator.vat(
        "POST",
        f"/{user.vrn}/returns",
        user.access_token,
        content=json.dumps(sent).encode(),
        headers={"Content-Type": "application/json", "Gov-Test-Scenario": "INVALID_PAYLOAD"},
    )
    assert answer.status_code in (400, 403), answer.text
    payload = answer.json()
    assert payload["code"] in ("INVALID_REQUEST", "BUSINESS_ERROR")
    for error in payload.get("errors", []):
        assert set(error) <= {"code", "message", "path"}
