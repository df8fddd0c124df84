"""Issuing the platform's access tokens: JWTs signed with the current key, `kid` in the
header. User tokens carry how the user signed in (`amr`, `mfa_time`) and the facts the
gateway turns into fraud prevention headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from services.auth.rbac import scopes_for
from services.auth.settings import AuthSettings
from services.auth.signing import KeyRing


class TokenIssuer:
    def __init__(self, settings: AuthSettings, keyring: KeyRing) -> None:
        self.settings = settings
        self.keyring = keyring

    @property
    def ttl(self) -> int:
        return self.settings.access_token_ttl_seconds

    def issue(
        self,
        *,
        subject: str,
        kind: str,
        tenant_id: uuid.UUID | None,
        roles: list[str],
        scopes: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        ttl: int | None = None,
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": subject,
            "typ": kind,
            "tid": str(tenant_id) if tenant_id else None,
            "roles": sorted(roles),
            "scope": " ".join(scopes if scopes is not None else scopes_for(roles)),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl if ttl is None else ttl)).timestamp()),
            "jti": uuid.uuid4().hex,
            **(extra or {}),
        }
        key = self.keyring.current
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid})
