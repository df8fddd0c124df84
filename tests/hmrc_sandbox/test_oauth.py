"""HMRC's OAuth: the consent form, authorisation codes with PKCE, refresh, client
credentials, lifetimes, and the documented error bodies."""

from __future__ import annotations

import secrets

import pytest

from tests.hmrc_sandbox.contracts import PLATFORM
from tests.hmrc_sandbox.helpers import (
    REDIRECT_URI,
    Simulator,
    pkce_challenge,
    redirect_params,
)


async def test_consent_page_is_a_plain_form_carrying_the_query(simulator: Simulator) -> None:
    params = {
        "response_type": "code",
        "client_id": simulator.client_id,
        "scope": "read:vat",
        "state": "abc<&>",
        "redirect_uri": REDIRECT_URI,
    }
    page = await simulator.http.get(f"{simulator.url}/oauth/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<form method="post" action="/oauth/authorize">' in html
    for field in (
        'name="user_id"',
        'name="password"',
        'name="decision" value="grant"',
        'name="decision" value="deny"',
    ):
        assert field in html
    assert '<input type="hidden" name="state" value="abc&lt;&amp;&gt;">' in html
    assert f'name="client_id" value="{simulator.client_id}"' in html


async def test_grant_redirects_with_code_and_state(simulator: Simulator) -> None:
    user = await simulator.create_user()
    answer = await simulator.authorize(user, state="xyz")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(answer)
    assert params["state"] == "xyz" and len(params["code"]) >= 20


async def test_deny_redirects_with_access_denied(simulator: Simulator) -> None:
    user = await simulator.create_user()
    answer = await simulator.authorize(user, decision="deny", state="s1")
    assert answer.status_code == 303
    assert redirect_params(answer) == {
        "error": "access_denied",
        "error_description": "user denied the authorization",
        "error_code": "USER_DENIED_AUTHORIZATION",
        "state": "s1",
    }
    expected = PLATFORM["authorize"]["redirect_failure"]
    assert "error=access_denied&error_description=user+denied+the+authorization" in expected


async def test_wrong_password_shows_the_form_again(simulator: Simulator) -> None:
    user = await simulator.create_user()
    user.password = "wrong"
    answer = await simulator.authorize(user)
    assert answer.status_code == 401
    assert "Incorrect user ID or password" in answer.text


AUTHORIZE_CASES = [
    ({"client_id": None}, ["invalid_request", "client_id is required"]),
    ({"client_id": "nobody"}, ["invalid_request", "client_id is invalid"]),
    ({"redirect_uri": None}, ["invalid_request", "redirect_uri is required"]),
    ({"redirect_uri": "ftp://x/y"}, ["invalid_request", "redirect_uri is invalid"]),
    ({"response_type": None}, ["invalid_request", "response_type is required"]),
    ({"response_type": "token"}, ["unsupported_response_type", "response_type must be 'code'"]),
    ({"scope": None}, ["invalid_request", "scope is required"]),
    ({"scope": "read:vat write:everything"}, ["invalid_scope", "scope is invalid"]),
    ({"client_secret": "x"}, ["invalid_request", "client_secret should NOT be present"]),
    (
        {"code_challenge": "", "code_challenge_method": "S256"},
        ["invalid_request", "code_challenge if present, cannot be empty"],
    ),
    (
        {"code_challenge": "abc", "code_challenge_method": "plain"},
        ["invalid_request", "code_challenge_method, if present, must be S256"],
    ),
    (
        {"code_challenge": "abc"},
        [
            "invalid_request",
            "code_challenge_method should be present when code_challenge is present",
        ],
    ),
    (
        {"code_challenge_method": "S256"},
        [
            "invalid_request",
            "code_challenge should be present when code_challenge_method is present",
        ],
    ),
]


def test_every_documented_authorize_error_is_exercised() -> None:
    assert sorted(c[1] for c in AUTHORIZE_CASES) == sorted(PLATFORM["authorize"]["errors_400"])


@pytest.mark.parametrize(("change", "error"), AUTHORIZE_CASES)
async def test_authorize_errors(
    simulator: Simulator, change: dict[str, str | None], error: list[str]
) -> None:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": simulator.client_id,
        "scope": "read:vat",
        "redirect_uri": REDIRECT_URI,
    }
    params.update(change)
    sent = {k: v for k, v in params.items() if v is not None}
    for answer in (
        await simulator.http.get(f"{simulator.url}/oauth/authorize", params=sent),
        await simulator.http.post(
            f"{simulator.url}/oauth/authorize", data={**sent, "decision": "deny"}
        ),
    ):
        assert answer.status_code == 400
        assert answer.json() == {"error": error[0], "error_description": error[1]}


async def _code(simulator: Simulator, challenge: str | None = None) -> str:
    user = await simulator.create_user()
    answer = await simulator.authorize(user, challenge=challenge)
    return redirect_params(answer)["code"]


async def test_token_errors(simulator: Simulator) -> None:
    cid, secret = simulator.client_id, simulator.client_secret
    base = {
        "client_id": cid,
        "client_secret": secret,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
    }
    verifier = secrets.token_urlsafe(48)
    with_pkce = await _code(simulator, pkce_challenge(verifier))
    without_pkce = await _code(simulator)
    cases = [
        ({"client_id": ""}, 400, "invalid_request", "client_id is required"),
        ({"client_secret": ""}, 400, "invalid_request", "client_secret is required"),
        ({"client_secret": "wrong"}, 401, "invalid_client", "invalid client id or secret"),
        ({"grant_type": ""}, 400, "invalid_request", "grant_type is required"),
        ({"grant_type": "password"}, 400, "invalid_request", "unsupported grant_type"),
        ({"redirect_uri": ""}, 400, "invalid_request", "redirect_uri is required"),
        ({}, 400, "invalid_request", "code is required for given grant_type"),
        ({"code": "nope"}, 400, "invalid_request", "code is invalid"),
        (
            {"code": without_pkce, "redirect_uri": "http://127.0.0.1:9/other"},
            400,
            "invalid_request",
            "redirect_uri is invalid",
        ),
        (
            {"code": without_pkce, "code_verifier": verifier},
            400,
            "invalid_request",
            "code_verifier is not expected",
        ),
        (
            {"code": with_pkce},
            400,
            "invalid_request",
            "code_verifier is expected when code_challenge was supplied",
        ),
        (
            {"code": with_pkce, "code_verifier": "short"},
            400,
            "invalid_request",
            "code_verifier must contain valid characters of length between 43 and 128",
        ),
        (
            {"code": with_pkce, "code_verifier": "x" * 43},
            400,
            "invalid_grant",
            "code_verifier is invalid",
        ),
    ]
    documented = [list(e) for e in PLATFORM["token"]["errors"]]
    for change, status, error, description in cases:
        form = {k: v for k, v in {**base, **change}.items() if v != ""}
        answer = await simulator.token(**form)
        assert [answer.status_code, answer.json()] == [
            status,
            {"error": error, "error_description": description},
        ], change
        assert [status, error, description] in documented
    # The right verifier still works: failed attempts did not use the code up.
    ok = await simulator.token(**base, code=with_pkce, code_verifier=verifier)
    assert ok.status_code == 200


async def test_code_is_single_use_and_tokens_have_hmrc_lifetimes(simulator: Simulator) -> None:
    code = await _code(simulator)
    form = {
        "client_id": simulator.client_id,
        "client_secret": simulator.client_secret,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "code": code,
    }
    first = await simulator.token(**form)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 14400
    assert body["scope"] == "read:vat write:vat" and body["refresh_token"]
    second = await simulator.token(**form)
    assert second.json()["error_description"] == "code is invalid"


async def test_refresh_is_single_use_and_revokes_the_previous_access_token(
    simulator: Simulator,
) -> None:
    user = await simulator.connected_user()
    old_access, old_refresh = user.access_token, user.refresh_token
    path = f"/{user.vrn}/obligations?status=O"
    assert (await simulator.vat("GET", path, old_access)).status_code == 200
    form = {
        "client_id": simulator.client_id,
        "client_secret": simulator.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": old_refresh,
    }
    refreshed = await simulator.token(**form)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}
    revoked = await simulator.vat("GET", path, old_access)
    assert revoked.json()["code"] == "INVALID_CREDENTIALS"
    assert (await simulator.vat("GET", path, refreshed.json()["access_token"])).status_code == 200
    reused = await simulator.token(**form)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    missing = await simulator.token(**{**form, "refresh_token": ""})
    assert missing.json()["error"] == "invalid_request"


async def test_access_token_lasts_four_hours_and_grant_eighteen_months(
    fresh_simulator: Simulator,
) -> None:
    sim = fresh_simulator
    user = await sim.connected_user()
    path = f"/{user.vrn}/obligations?status=O"
    await sim.control("PUT", "/clock", {"advance_seconds": 4 * 3600 - 5})
    assert (await sim.vat("GET", path, user.access_token)).status_code == 200
    await sim.control("PUT", "/clock", {"advance_seconds": 10})
    assert (await sim.vat("GET", path, user.access_token)).json()["code"] == "INVALID_CREDENTIALS"
    form = {
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": user.refresh_token,
    }
    # 17 months on, the grant still refreshes; past 18 months it does not.
    await sim.control("PUT", "/clock", {"advance_seconds": 17 * 31 * 86400})
    refreshed = await sim.token(**form)
    assert refreshed.status_code == 200
    await sim.control("PUT", "/clock", {"advance_seconds": 40 * 86400})
    expired = await sim.token(**{**form, "refresh_token": refreshed.json()["refresh_token"]})
    assert (expired.status_code, expired.json()["error"]) == (400, "invalid_grant")


async def test_client_credentials(simulator: Simulator) -> None:
    answer = await simulator.token(
        grant_type="client_credentials",
        client_id=simulator.client_id,
        client_secret=simulator.client_secret,
        scope="read:vat",
    )
    assert answer.status_code == 200
    assert answer.json()["expires_in"] == 14400 and "refresh_token" not in answer.json()
    bad = await simulator.token(
        grant_type="client_credentials",
        client_id=simulator.client_id,
        client_secret=simulator.client_secret,
        scope="write:everything",
    )
    assert bad.json() == {"error": "invalid_scope", "error_description": "scope is invalid"}
