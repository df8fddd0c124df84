"""What the simulator remembers, as plain records that persist as JSON documents."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Stagger = Literal["quarterly", "monthly"]


def digest(secret: str) -> str:
    """Secrets (client secrets, passwords, tokens, codes) are kept only as SHA-256 digests."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    return value


def to_doc(record: Any) -> dict[str, Any]:
    return {k: _iso(v) for k, v in asdict(record).items()}


@dataclass
class Application:
    client_id: str
    secret_digests: list[str]
    name: str
    redirect_uris: list[str] = field(default_factory=list)
    rate_limit: float | None = None  # requests per second; None: the configured default

    KIND = "application"

    @property
    def key(self) -> str:
        return self.client_id

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Application:
        rate = doc.get("rate_limit")  # JSON numbers come back as Decimal
        return cls(**{**doc, "rate_limit": float(rate) if rate is not None else None})


@dataclass
class TestUser:
    user_id: str
    password_digest: str
    vrn: str
    profile: dict[str, Any]  # the create-test-user answer, less the password
    created_at: datetime
    calendar_start: date  # the first obligation period starts here
    services: list[str] = field(default_factory=list)  # the enrolments asked for
    stagger: Stagger = "quarterly"

    @property
    def mtd_vat(self) -> bool:
        return bool(self.vrn) and "mtd-vat" in self.services

    KIND = "test_user"

    @property
    def key(self) -> str:
        return self.user_id

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> TestUser:
        return cls(
            **{
                **doc,
                "created_at": datetime.fromisoformat(doc["created_at"]),
                "calendar_start": date.fromisoformat(doc["calendar_start"]),
            }
        )


@dataclass
class AuthCode:
    code_digest: str
    client_id: str
    user_id: str
    redirect_uri: str
    scopes: list[str]
    code_challenge: str | None
    expires_at: datetime

    KIND = "auth_code"

    @property
    def key(self) -> str:
        return self.code_digest

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuthCode:
        return cls(**{**doc, "expires_at": datetime.fromisoformat(doc["expires_at"])})


@dataclass
class Grant:
    """An authority: a user's consent (18 months) or an application's own (client credentials)."""

    grant_id: str
    client_id: str
    user_id: str | None
    scopes: list[str]
    created_at: datetime
    expires_at: datetime

    KIND = "grant"

    @property
    def key(self) -> str:
        return self.grant_id

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Grant:
        return cls(
            **{
                **doc,
                "created_at": datetime.fromisoformat(doc["created_at"]),
                "expires_at": datetime.fromisoformat(doc["expires_at"]),
            }
        )


@dataclass
class Token:
    token_digest: str
    kind: Literal["access", "refresh"]
    grant_id: str
    expires_at: datetime

    KIND = "token"

    @property
    def key(self) -> str:
        return self.token_digest

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Token:
        return cls(**{**doc, "expires_at": datetime.fromisoformat(doc["expires_at"])})


@dataclass
class StoredReturn:
    vrn: str
    period_key: str
    body: str  # the nine boxes as submitted, HMRC JSON text (amounts exactly as sent)
    received_at: datetime
    processing_date: str
    form_bundle_number: str
    charge_ref_number: str | None
    payment_indicator: str | None
    client_id: str

    KIND = "return"

    @property
    def key(self) -> str:
        return f"{self.vrn}/{self.period_key}"

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> StoredReturn:
        return cls(**{**doc, "received_at": datetime.fromisoformat(doc["received_at"])})
