"""Start-up provisioning of platform API clients.

The bootstrap client (role platform_admin) lets a script create tenants, clients and users
from nothing; it exists only in development unless explicitly allowed, so a cluster never
grows an all-powerful credential by accident. Service clients (role platform_service) are
how the platform's own services call each other (the gateway asks auth for HMRC access
tokens; obligations and submission call the gateway), in every environment.
"""

from __future__ import annotations

from services.auth.clients import ensure_client
from services.auth.context import AuthContext
from services.auth.rbac import Role
from services.common.logging import get_logger

log = get_logger(__name__)


async def provision(ctx: AuthContext) -> None:
    settings = ctx.settings
    if settings.bootstrap_client_id and settings.bootstrap_client_secret:
        if settings.environment == "development" or settings.bootstrap_outside_development:
            await ensure_client(
                ctx,
                client_id=settings.bootstrap_client_id,
                client_secret=settings.bootstrap_client_secret.get_secret_value(),
                name="bootstrap platform admin",
                roles=[Role.PLATFORM_ADMIN.value],
            )
            log.info("bootstrap client ready", client_id=settings.bootstrap_client_id)
        else:
            log.warning(
                "bootstrap client ignored outside development",
                hint="set AUTH_BOOTSTRAP_OUTSIDE_DEVELOPMENT=true to create it anyway",
            )
    for client_id, secret in settings.service_client_secrets().items():
        await ensure_client(
            ctx,
            client_id=client_id,
            client_secret=secret,
            name=f"platform service {client_id}",
            roles=[Role.PLATFORM_SERVICE.value],
        )
