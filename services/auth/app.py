"""App factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth.bootstrap import provision
from services.auth.break_glass import LocalGrantChecker
from services.auth.context import AuthContext
from services.auth.hashing import SecretHasher
from services.auth.hmrc_oauth import HmrcOAuthClient
from services.auth.keymaterial import load_key_material, reload_forever
from services.auth.metrics import CountingTokenVerifier
from services.auth.routes import admin, break_glass, hmrc_connections, internal, sign_in
from services.auth.settings import AuthSettings
from services.auth.tokens import TokenIssuer
from services.common.messaging import streams
from services.common.security.jwt_verify import StaticKeySource
from services.common.service import Runtime, ServiceSpec, build_app
from services.common.settings import ServiceSettings, load_settings

SPEC = ServiceSpec(
    name="auth",
    title="MTD VAT auth",
    description="Tenants, API clients, users with MFA, JWT signing keys and HMRC connections.",
    settings_cls=AuthSettings,
    routers=(
        sign_in.router,
        admin.router,
        admin.platform_router,
        hmrc_connections.router,
        break_glass.router,
        internal.router,
        break_glass.internal_router,
    ),
    streams=(streams.AUDIT, streams.DEAD_LETTER),
)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or load_settings(AuthSettings)
    assert isinstance(settings, AuthSettings)
    keys = load_key_material(settings)
    ctx = AuthContext(
        settings=settings,
        keys=keys,
        hasher=SecretHasher(settings),
        issuer=TokenIssuer(settings, keys.signing),
        hmrc=HmrcOAuthClient(settings),
    )
    app = build_app(SPEC, settings)
    app.state.auth = ctx
    # The service verifies its own tokens with its own keys; other services use the JWKS.
    app.state.token_verifier = CountingTokenVerifier(
        StaticKeySource(keys.signing.public_keys),
        issuer=settings.issuer,
        audience=settings.audience,
        grant_checker=LocalGrantChecker(ctx),
    )

    async def start(runtime: Runtime) -> None:
        ctx.attach(runtime.database())
        # Rotated keys (a re-read Secret file or Vault) take effect without a restart.
        runtime.spawn(reload_forever(settings, keys), "key-reload")
        # Provisioned before the port opens, so `ready` means the bootstrap client works.
        await provision(ctx)

    app.state.runtime.on_start(start)
    app.state.runtime.on_stop(ctx.hmrc.aclose)
    return app
