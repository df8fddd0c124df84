"""What the auth service's request handlers share: settings, keys, hashers, the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from services.auth.hashing import SecretHasher
from services.auth.hmrc_oauth import HmrcOAuthClient
from services.auth.keymaterial import KeyMaterial
from services.auth.settings import AuthSettings
from services.auth.throttle import Throttle
from services.auth.tokens import TokenIssuer
from services.common.database import Database


@dataclass
class AuthContext:
    settings: AuthSettings
    keys: KeyMaterial
    hasher: SecretHasher
    issuer: TokenIssuer
    hmrc: HmrcOAuthClient
    _db: Database | None = field(default=None, repr=False)
    _throttle: Throttle | None = field(default=None, repr=False)

    def attach(self, db: Database) -> None:
        self._db = db
        self._throttle = Throttle(db, self.settings)

    @property
    def db(self) -> Database:
        assert self._db is not None, "the auth context is used before start-up"
        return self._db

    @property
    def throttle(self) -> Throttle:
        assert self._throttle is not None, "the auth context is used before start-up"
        return self._throttle


def get_context(request: Request) -> AuthContext:
    ctx: AuthContext = request.app.state.auth
    return ctx
