"""Start-up provisioning of platform API clients.

The bootstrap client (role platform_admin) lets a script create tenants, clients and users
from nothing; it exists only in development unless explicitly allowed, so a cluster never
grows an all-powerful credential by accident. The gateway client (role platform_service)
is how the HMRC gateway asks for HMRC access tokens, in every environment.
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
    if settings.gateway_client_id and settings.gateway_client_secret:
        await ensure_client(
            ctx,
            client_id=settings.gateway_client_id,
            client_secret=settings.gateway_client_secret.get_secret_value(),
            name="hmrc gateway",
            roles=[Role.PLATFORM_SERVICE.value],
        )
