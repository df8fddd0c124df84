"""Users: password, TOTP enrolment, the two-step sign-in, recovery codes, lockouts, and the
facts the gateway needs for `Gov-Client-Multi-Factor` and `Gov-Client-User-IDs`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import jwt
import pyotp

from services.auth.hashing import IdentifierHasher, parse_salts
from tests.auth.conftest import AuthApi, Person, bearer


async def sign_in(auth: AuthApi, user: Person) -> str:
    r = await auth.http.post(
        "/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "mfa_required"
    assert "access_token" not in r.json()
    return str(r.json()["mfa_token"])


def next_step_code(secret: str) -> str:
    """The code of the next 30-second step (accepted within the ±1 step drift window)."""
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))


async def test_password_only_token_can_do_nothing_but_enrol(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["tenant_admin"])
    r = await auth.http.post(
        "/v1/auth/login", json={"email": user.email.upper(), "password": user.password}
    )
    assert r.json()["status"] == "mfa_enrolment_required"
    token = r.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["roles"] == [] and claims["scope"] == "mfa:enrol"
    assert claims["amr"] == ["pwd"]
    r = await auth.http.get(f"/v1/tenants/{tenant}/users", headers=bearer(token))
    assert r.status_code == 403
    r = await auth.http.post("/v1/connections", json={"vrn": "123456789"}, headers=bearer(token))
    assert r.status_code == 403


async def test_enrolment_then_two_step_sign_in_with_amr_and_mfa_facts(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["submitter"])
    session = await auth.enrol(user)
    assert len(user.recovery_codes) == 10
    claims = jwt.decode(session, options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "mfa", "otp"]
    assert claims["roles"] == ["submitter"]

    mfa_token = await sign_in(auth, user)
    r = await auth.http.post(
        "/v1/auth/login/mfa",
        json={"mfa_token": mfa_token, "code": next_step_code(user.totp_secret)},
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["typ"] == "user" and claims["sub"] == user.id and claims["tid"] == tenant
    assert abs(claims["mfa_time"] - time.time()) < 10
    [factor] = claims["mfa"]
    assert factor["type"] == "TOTP"
    assert factor["timestamp"].endswith("Z") and "T" in factor["timestamp"]
    assert user.id not in claims["uid_hash"] and claims["uid_hash"].startswith("s1.")

    # The challenge is single use.
    again = await auth.http.post(
        "/v1/auth/login/mfa", json={"mfa_token": mfa_token, "code": "000000"}
    )
    assert again.status_code == 401
    assert again.json()["code"] == "MFA_CHALLENGE_INVALID"

    # The gateway asks for the same facts, ready as header values.
    gateway = await auth.gateway_token()
    facts = (
        await auth.http.get(f"/internal/v1/users/{user.id}/fraud-facts", headers=bearer(gateway))
    ).json()
    assert facts["user_id_hash"] == claims["uid_hash"]
    assert facts["multi_factor"][0]["unique_reference"] == factor["unique_reference"]
    header = facts["headers"]["Gov-Client-Multi-Factor"]
    parsed = parse_qs(header)
    assert parsed["type"] == ["TOTP"]
    assert parsed["unique-reference"] == [factor["unique_reference"]]
    assert "%3A" in header  # the timestamp's colon is percent-encoded
    assert facts["headers"]["Gov-Client-User-IDs"] == f"mtd-vat-platform={claims['uid_hash']}"
    # A tenant admin may not read them.
    admin = await auth.token_for_roles(tenant, ["tenant_admin"])
    r = await auth.http.get(f"/internal/v1/users/{user.id}/fraud-facts", headers=bearer(admin))
    assert r.status_code == 403


async def test_a_totp_code_is_accepted_once(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["viewer"])
    await auth.enrol(user)
    code = next_step_code(user.totp_secret)
    first = await auth.http.post(
        "/v1/auth/login/mfa", json={"mfa_token": await sign_in(auth, user), "code": code}
    )
    assert first.status_code == 200
    replay = await auth.http.post(
        "/v1/auth/login/mfa", json={"mfa_token": await sign_in(auth, user), "code": code}
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "INVALID_MFA_CODE"


async def test_recovery_code_signs_in_once_and_reports_other_factor(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["viewer"])
    await auth.enrol(user)
    code = user.recovery_codes[3]
    r = await auth.http.post(
        "/v1/auth/login/mfa",
        json={"mfa_token": await sign_in(auth, user), "recovery_code": code.upper()},
    )
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "mfa", "rec"]
    assert claims["mfa"][0]["type"] == "OTHER"
    r = await auth.http.post(
        "/v1/auth/login/mfa", json={"mfa_token": await sign_in(auth, user), "recovery_code": code}
    )
    assert r.status_code == 401


async def test_wrong_passwords_and_codes_lock_the_identity(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    user = await auth.create_user(tenant, ["viewer"])
    await auth.enrol(user)
    # TOTP guesses: five wrong, then even a right code is refused.
    for n in range(5):
        r = await auth.http.post(
            "/v1/auth/login/mfa",
            json={"mfa_token": await sign_in(auth, user), "code": f"{n:06d}"},
        )
        assert r.status_code == 401
    r = await auth.http.post(
        "/v1/auth/login/mfa",
        json={"mfa_token": await sign_in(auth, user), "code": next_step_code(user.totp_secret)},
    )
    assert r.status_code == 429
    # Password guesses, including for an email nobody has.
    for email in (user.email, "nobody@example.com"):
        codes = [
            (
                await auth.http.post(
                    "/v1/auth/login", json={"email": email, "password": f"wrong-{n}"}
                )
            ).status_code
            for n in range(6)
        ]
        assert codes == [401] * 5 + [429]
    r = await auth.http.post(
        "/v1/auth/login", json={"email": user.email, "password": user.password}
    )
    assert r.status_code == 429


async def test_weak_passwords_and_unknown_roles_are_refused(auth: AuthApi) -> None:
    tenant = await auth.create_tenant()
    admin = await auth.admin_token()
    for body, code in (
        ({"password": "short"}, "WEAK_PASSWORD"),
        ({"roles": ["wizard"]}, "UNKNOWN_ROLE"),
        ({"roles": ["platform_admin"]}, "ROLE_NOT_ASSIGNABLE"),
    ):
        payload = {
            "email": "someone@example.com",
            "name": "S",
            "roles": ["viewer"],
            "password": "long-enough-passphrase",
            **body,
        }
        r = await auth.http.post(f"/v1/tenants/{tenant}/users", json=payload, headers=bearer(admin))
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code
    r = await auth.http.post(
        f"/v1/tenants/{tenant}/users",
        json={"email": "not-an-email", "name": "S", "roles": ["viewer"], "password": "x" * 20},
        headers=bearer(admin),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "INVALID_REQUEST"


def test_user_id_hashes_stay_verifiable_across_salt_rotation() -> None:
    old = IdentifierHasher(parse_salts("s1:first-salt-0123456789"))
    rotated = IdentifierHasher(parse_salts("s2:second-salt-0123456789,s1:first-salt-0123456789"))
    before = old.hash("user-42")
    after = rotated.hash("user-42")
    assert before.startswith("s1.") and after.startswith("s2.")
    assert before != after
    assert rotated.verify("user-42", before) and rotated.verify("user-42", after)
    assert not rotated.verify("user-43", before)
    assert not old.verify("user-42", after)  # s2 unknown to the old configuration
    assert rotated.hash("user-42", purpose="mfa-factor") != after
