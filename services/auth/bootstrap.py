"""Start-up provisioning of platform API clients.

The bootstrap client (role platform_admin) lets a script create tenants, clients and users
from nothing; it exists only in development unless explicitly allowed, so a cluster never
grows an all-powerful credential by accident. Service clients (role platform_service) are
how the platform's own services call each other (the gateway asks auth for HMRC access
tokens; obligations and submission call the gateway), in every environment.
"""

from __future__ import annotations

import asyncio

from services.auth.clients import ensure_client
from services.auth.context import AuthContext
from services.auth.rbac import Role
from services.common.logging import get_logger

log = get_logger(__name__)


async def provision(ctx: AuthContext) -> None:
    """Every platform client, checked at once: each check is an argon2 verify (a fifth of a
    second of CPU, more on a busy node) and readiness waits for them all, so one after
    another they would keep a restarted auth unready for a second or more."""
    settings = ctx.settings
    checks = [
        ensure_client(
            ctx,
            client_id=client_id,
            client_secret=secret,
            name=f"platform service {client_id}",
            roles=[Role.PLATFORM_SERVICE.value],
        )
        for client_id, secret in settings.service_client_secrets().items()
    ]
    bootstrap_id, bootstrap_secret = settings.bootstrap_client_id, settings.bootstrap_client_secret
    allowed = settings.environment == "development" or settings.bootstrap_outside_development
    if bootstrap_id and bootstrap_secret and allowed:
        checks.append(
            ensure_client(
                ctx,
                client_id=bootstrap_id,
                client_secret=bootstrap_secret.get_secret_value(),
                name="bootstrap platform admin",
                roles=[Role.PLATFORM_ADMIN.value],
            )
        )
    elif bootstrap_id and bootstrap_secret:
        log.warning(
            "bootstrap client ignored outside development",
            hint="set AUTH_BOOTSTRAP_OUTSIDE_DEVELOPMENT=true to create it anyway",
        )
    await asyncio.gather(*checks)
    if bootstrap_id and bootstrap_secret and allowed:
        log.info("bootstrap client ready", client_id=bootstrap_id)
