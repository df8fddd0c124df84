"""Each public service's FastAPI app, built without starting it (no database, no broker).

The settings are placeholders: building an app connects to nothing, and a service's
OpenAPI document does not depend on its settings' values."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

from fastapi import FastAPI

from services.auth.signing import generate_pem
from services.common.envelope import new_keyring_entry

# Never dialled: apps connect only when their lifespan starts.
_NOWHERE = "http://127.0.0.1:9"
_DB = "postgresql://contracts:unused-placeholder@127.0.0.1:9/contracts"


def _auth() -> FastAPI:
    from services.auth.app import create_app
    from services.auth.settings import AuthSettings

    return create_app(
        AuthSettings(
            environment="test",
            database_url=_DB,
            hmrc_base_url=_NOWHERE,
            hmrc_client_id="contracts",
            hmrc_client_secret=secrets.token_urlsafe(16),
            signing_key=generate_pem(),
            encryption_keys=new_keyring_entry("k1"),
            user_id_salts="s1:unused-placeholder-salt-value",
        )
    )


def _hmrc_gateway() -> FastAPI:
    from services.hmrc_gateway.app import create_app
    from services.hmrc_gateway.settings import HmrcGatewaySettings

    return create_app(
        HmrcGatewaySettings(
            environment="test",
            database_url=_DB,
            hmrc_base_url=_NOWHERE,
            auth_url=_NOWHERE,
            vendor_public_ip="20.77.1.1",
        )
    )


def _obligations() -> FastAPI:
    from services.obligations.app import create_app
    from services.obligations.settings import ObligationsSettings

    return create_app(
        ObligationsSettings(
            environment="test", database_url=_DB, auth_url=_NOWHERE, hmrc_gateway_url=_NOWHERE
        )
    )


def _submission() -> FastAPI:
    from services.submission.app import create_app
    from services.submission.settings import SubmissionSettings

    return create_app(SubmissionSettings(environment="test", database_url=_DB, auth_url=_NOWHERE))


def _audit() -> FastAPI:
    from services.audit.app import create_app
    from services.audit.settings import AuditSettings

    return create_app(
        AuditSettings(
            environment="test",
            database_url=_DB,
            auth_url=_NOWHERE,
            key_encryption_key=base64.b64encode(bytes(32)).decode(),
        )
    )


def _hmrc_sandbox() -> FastAPI:
    from services.hmrc_sandbox.app import create_app
    from services.hmrc_sandbox.settings import HmrcSandboxSettings

    return create_app(HmrcSandboxSettings(environment="test", database_url=_DB))


FACTORIES: dict[str, Callable[[], FastAPI]] = {
    "auth": _auth,
    "hmrc_gateway": _hmrc_gateway,
    "obligations": _obligations,
    "submission": _submission,
    "audit": _audit,
    "hmrc_sandbox": _hmrc_sandbox,
}
SERVICES = tuple(FACTORIES)
