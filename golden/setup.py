"""Before a scenario's steps: the simulator in deterministic mode, a tenant of the
scenario's own with an API client, and (unless told otherwise) a connected VRN."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from golden.context import Context, ok, simulator, token
from golden.scenario import Scenario

HMRC_ACCEPT = {"Accept": "application/vnd.hmrc.1.0+json"}


def seed_for(scenario: Scenario, salt: int) -> int:
    """The scenario's own seed; a reused stack shifts it so VRNs are new to the platform."""
    return scenario.seed + salt * 1_000_003


# HMRC's limit (3/s) equals the gateway's own, so scheduling jitter alone could draw a 429
# and a retry; scenarios raise the limit and throttle on purpose (a `sim` step) instead.
RELAXED_RATE = {"requests_per_second": 1000}


def deterministic(ctx: Context, scenario: Scenario, salt: int) -> None:
    simulator(ctx, "POST", "/control/reset")
    simulator(ctx, "PUT", "/control/seed", {"seed": seed_for(scenario, salt)})
    simulator(ctx, "PUT", "/control/clock", {"fixed": scenario.clock})
    simulator(ctx, "PUT", "/control/rate-limit", RELAXED_RATE)


def run_tokens(ctx: Context) -> dict[str, str]:
    """Sign-ins shared by every scenario of a run: the platform admin, and the submission
    service's own client for steps that call the gateway's internal API."""
    env = ctx.stack.env
    return {
        "admin": token(ctx, env["BOOTSTRAP_CLIENT_ID"], env["BOOTSTRAP_CLIENT_SECRET"]),
        "service": token(ctx, "submission", ctx.stack.secrets["submission_client_secret"]),
    }


def set_up(ctx: Context, scenario: Scenario, run_id: str) -> None:
    admin = ctx.tokens["admin"]
    auth = ctx.url("auth")
    bearer = {"Authorization": f"Bearer {admin}"}
    tenant = ok(
        ctx.http.post(
            auth + "/v1/tenants", json={"name": f"golden {scenario.name} {run_id}"}, headers=bearer
        ),
        "create tenant",
    )
    ctx.save("tenant_id", tenant["id"], learn=True)
    ctx.save("run", run_id, learn=True)  # for names that must be unique, such as emails
    client = ok(
        ctx.http.post(
            f"{auth}/v1/tenants/{tenant['id']}/clients",
            json={"name": "golden client", "roles": scenario.roles},
            headers=bearer,
        ),
        "create API client",
    )
    ctx.save("client_id", client["client_id"], learn=True)
    ctx.norm.learn(client["client_secret"], "<client_secret>")
    ctx.tokens["client"] = token(ctx, client["client_id"], client["client_secret"])
    if scenario.connect:
        connect(ctx)
    else:  # steps that never reach HMRC still name a VRN
        ctx.save("vrn", scenario.vrn, learn=True)


def connect(ctx: Context) -> None:
    """A simulator test user, connected the way a script would: consent form posted directly."""
    env, sim = ctx.stack.env, ctx.url("simulator")
    app = ok(
        ctx.http.post(
            sim + "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["HMRC_CLIENT_ID"],
                "client_secret": env["HMRC_CLIENT_SECRET"],
            },
        ),
        "simulator application token",
    )["access_token"]
    user = ok(
        ctx.http.post(
            sim + "/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={**HMRC_ACCEPT, "Authorization": f"Bearer {app}"},
        ),
        "create test user",
    )
    ctx.save("vrn", user["vrn"], learn=True)
    ctx.save("test_user_id", user["userId"], learn=True)
    ctx.norm.learn(user["password"], "<test_user_password>")
    started = ok(
        ctx.http.post(
            ctx.url("auth") + "/v1/connections",
            json={"vrn": user["vrn"]},
            headers={"Authorization": f"Bearer {ctx.tokens['client']}"},
        ),
        "start connection",
    )
    ctx.save("connection_id", started["id"], learn=True)
    params = dict(parse_qsl(urlsplit(started["authorize_url"]).query))
    r = ctx.http.post(
        sim + "/oauth/authorize",
        data={
            **params,
            "user_id": user["userId"],
            "password": user["password"],
            "decision": "grant",
        },
    )
    r = ctx.http.get(r.headers["location"], headers={"Accept": "application/json"})
    ok(r, "connection callback")
