"""The facts the HMRC gateway needs about the person behind a request, for HMRC's fraud
prevention headers: `Gov-Client-Multi-Factor` (how they proved a second factor, when, and
a stable hashed reference to that factor) and `Gov-Client-User-IDs` (a salted, versioned
hash of the platform's user id, never the id itself)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from services.auth.hashing import IdentifierHasher

# How each sign-in method is named in `Gov-Client-Multi-Factor`.
MFA_TYPES = {"totp": "TOTP", "recovery_code": "OTHER"}
APPLICATION_KEY = "mtd-vat-platform"


def factor_reference(
    identifiers: IdentifierHasher, user_id: uuid.UUID, enrolled_at: datetime
) -> str:
    """Stable while the factor is: a re-enrolled TOTP device is a new factor."""
    return identifiers.hash(f"{user_id}:totp:{enrolled_at.isoformat()}", purpose="mfa-factor")


def hmrc_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def multi_factor(method: str, at: datetime, reference: str) -> dict[str, str]:
    return {
        "type": MFA_TYPES.get(method, "OTHER"),
        "timestamp": hmrc_timestamp(at),
        "unique_reference": reference,
    }


def multi_factor_header(factors: list[dict[str, str]]) -> str:
    return ",".join(
        urlencode(
            {
                "type": f["type"],
                "timestamp": f["timestamp"],
                "unique-reference": f["unique_reference"],
            },
            quote_via=quote,
        )
        for f in factors
    )


def user_ids_header(user_id_hash: str) -> str:
    return urlencode({APPLICATION_KEY: user_id_hash}, quote_via=quote)


def facts(
    identifiers: IdentifierHasher,
    user_id: uuid.UUID,
    *,
    mfa_method: str | None,
    mfa_at: datetime | None,
    enrolled_at: datetime | None,
) -> dict[str, Any]:
    factors = []
    if mfa_method and mfa_at and enrolled_at:
        factors.append(
            multi_factor(mfa_method, mfa_at, factor_reference(identifiers, user_id, enrolled_at))
        )
    user_hash = identifiers.hash(str(user_id))
    return {
        "user_id_hash": user_hash,
        "multi_factor": factors,
        "headers": {
            "Gov-Client-Multi-Factor": multi_factor_header(factors) if factors else None,
            "Gov-Client-User-IDs": user_ids_header(user_hash),
        },
    }
