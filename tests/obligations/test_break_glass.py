"""Obligations under break-glass: support reads a tenant's obligations only with a grant
its admin approved, each read recorded at auth, and not after the admin revokes it."""

from __future__ import annotations

from datetime import date

from tests.auth.conftest import bearer
from tests.obligations.conftest import Platform

WINDOW = {"from": f"{date.today().year - 1}-01-01", "to": f"{date.today().year - 1}-12-31"}


async def test_support_reads_obligations_only_under_a_live_grant(platform: Platform) -> None:
    auth = platform.auth
    tenant = await platform.tenant()
    [vrn] = tenant.vrns
    support = await auth.enrol(await auth.create_platform_user(["platform_support"]))
    admin = await auth.enrol(await auth.create_user(tenant.id, ["tenant_admin"]))
    path = f"/v1/vat/{vrn}/obligations"

    r = await platform.get(path, support, params=WINDOW)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN", r.text

    r = await auth.http.post(
        "/v1/break-glass/grants",
        json={"tenant_id": tenant.id, "reason": "Ticket 99: obligations", "duration_minutes": 30},
        headers=bearer(support),
    )
    grant = r.json()["id"]
    r = await auth.http.post(f"/v1/break-glass/grants/{grant}/approve", headers=bearer(admin))
    assert r.status_code == 200, r.text
    r = await auth.http.post(f"/v1/break-glass/grants/{grant}/token", headers=bearer(support))
    token = r.json()["access_token"]

    r = await platform.get(path, token, params=WINDOW)
    assert r.status_code == 200, r.text
    assert r.json()["obligations"]
    r = await auth.http.get(f"/v1/break-glass/grants/{grant}/uses", headers=bearer(admin))
    assert ("obligations", "GET", path, None) in {
        (u["service"], u["method"], u["path"], u["refusal"]) for u in r.json()
    }

    r = await auth.http.post(f"/v1/break-glass/grants/{grant}/revoke", headers=bearer(admin))
    assert r.status_code == 200, r.text
    r = await platform.get(path, token, params=WINDOW)
    assert r.status_code == 403 and r.json()["code"] == "BREAK_GLASS_REVOKED", r.text
