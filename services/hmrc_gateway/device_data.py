"""The end user's device data as API clients send it: a documented JSON object, or the
`Gov-Client-*` headers themselves (percent-encoded, as HMRC specifies). Both become one
`DeviceData`; the header builder encodes it again, so what reaches HMRC is always encoded
by one piece of code."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from ipaddress import ip_address
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from services.common.errors import ProblemError

ConnectionMethod = Literal[
    "WEB_APP_VIA_SERVER",
    "DESKTOP_APP_VIA_SERVER",
    "MOBILE_APP_VIA_SERVER",
    "BATCH_PROCESS_DIRECT",
    "OTHER_VIA_SERVER",
    "DESKTOP_APP_DIRECT",
    "MOBILE_APP_DIRECT",
    "OTHER_DIRECT",
]
CONNECTION_METHODS: tuple[str, ...] = ConnectionMethod.__args__  # type: ignore[attr-defined]

# Words HMRC forbids as stand-ins for missing data.
PLACEHOLDERS = frozenset({"null", "undefined", "none", "nil", "n/a", "unknown", "-"})


def _not_placeholder(value: str) -> str:
    if value.strip().lower() in PLACEHOLDERS:
        raise ValueError("must be real data, not a placeholder; leave it out instead")
    return value


# Free text: at least one visible character, no control characters, no placeholder.
Text = Annotated[
    str,
    AfterValidator(_not_placeholder),
    StringConstraints(
        min_length=1,
        max_length=512,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
    ),
]
Key = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
_TIMEZONE = re.compile(r"^UTC[+-](0\d|1[0-4]):[0-5]\d$")


class Screen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)
    scaling_factor: Decimal = Field(gt=0, le=100, max_digits=8, decimal_places=4)
    colour_depth: int = Field(gt=0, le=128)


class WindowSize(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0, le=100_000)
    height: int = Field(gt=0, le=100_000)


class UserAgent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    os_family: Text
    os_version: Text
    device_manufacturer: Text
    device_model: Text


class MultiFactor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["TOTP", "AUTH_CODE", "OTHER"]
    timestamp: AwareDatetime
    unique_reference: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~-]{1,256}$")]


class Hop(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str
    for_: str = Field(alias="for")

    @field_validator("by", "for_")
    @classmethod
    def _ip(cls, value: str) -> str:
        return str(ip_address(value))


class DeviceData(BaseModel):
    """What the API client knows about its user's device (see the internal API docs).
    Everything is optional here; the validator says what a connection method needs."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    connection_method: ConnectionMethod
    device_id: uuid.UUID | None = None
    user_ids: dict[Key, Text] = Field(default_factory=dict, max_length=20)
    timezone: str | None = None
    screens: list[Screen] = Field(default_factory=list, max_length=16)
    window_size: WindowSize | None = None
    browser_js_user_agent: Text | None = None
    user_agent: UserAgent | None = None
    local_ips: list[str] = Field(default_factory=list, max_length=64)
    local_ips_timestamp: AwareDatetime | None = None
    mac_addresses: list[str] = Field(default_factory=list, max_length=64)
    multi_factor: list[MultiFactor] = Field(default_factory=list, max_length=8)
    # Relayed by an API client that is itself a server between the device and us.
    public_ip: str | None = None
    public_port: int | None = Field(default=None, ge=1, le=65535)
    public_ip_timestamp: AwareDatetime | None = None
    vendor_forwarded: list[Hop] = Field(default_factory=list, max_length=16)
    # The API client's software: name -> version, name -> licence key (hashed before use).
    vendor_version: dict[Key, Text] = Field(default_factory=dict, max_length=10)
    vendor_licence_ids: dict[Key, Text] = Field(default_factory=dict, max_length=10)
    vendor_product_name: Text | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and not _TIMEZONE.match(value):
            raise ValueError("must look like UTC+01:00")
        return value

    @field_validator("local_ips")
    @classmethod
    def _ips(cls, value: list[str]) -> list[str]:
        return [str(ip_address(v)) for v in value]

    @field_validator("public_ip")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return None
        address = ip_address(value)
        if not address.is_global:
            raise ValueError("must be a public address")
        return str(address)

    @field_validator("mac_addresses")
    @classmethod
    def _macs(cls, value: list[str]) -> list[str]:
        for mac in value:
            if not _MAC.match(mac):
                raise ValueError("must be MAC addresses like ea:43:1a:5d:21:45")
        return [m.replace("-", ":").lower() for m in value]

    @field_validator("local_ips_timestamp", "public_ip_timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None


# -- from Gov-Client-* headers -------------------------------------------------------------
def _pairs(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split("&"):
        if not part:
            continue
        key, _, val = part.partition("=")
        out[unquote(key)] = unquote(val)
    return out


def _items(value: str) -> list[str]:
    return [unquote(v) for v in value.split(",") if v]


def from_headers(headers: Mapping[str, str]) -> dict[str, object]:
    """Gov-Client-* / Gov-Vendor-* request headers as `DeviceData` fields."""
    h = {k.lower(): v for k, v in headers.items()}
    out: dict[str, object] = {}
    if "gov-client-connection-method" in h:
        out["connection_method"] = h["gov-client-connection-method"]
    if "gov-client-device-id" in h:
        out["device_id"] = h["gov-client-device-id"]
    if "gov-client-user-ids" in h:
        out["user_ids"] = _pairs(h["gov-client-user-ids"])
    if "gov-client-timezone" in h:
        out["timezone"] = h["gov-client-timezone"]
    if "gov-client-screens" in h:
        out["screens"] = [
            {k.replace("-", "_"): v for k, v in _pairs(s).items()}
            for s in h["gov-client-screens"].split(",")
        ]
    if "gov-client-window-size" in h:
        out["window_size"] = _pairs(h["gov-client-window-size"])
    if "gov-client-browser-js-user-agent" in h:
        out["browser_js_user_agent"] = unquote(h["gov-client-browser-js-user-agent"])
    if "gov-client-user-agent" in h:
        out["user_agent"] = {
            k.replace("-", "_"): v for k, v in _pairs(h["gov-client-user-agent"]).items()
        }
    if "gov-client-local-ips" in h:
        out["local_ips"] = _items(h["gov-client-local-ips"])
    if "gov-client-local-ips-timestamp" in h:
        out["local_ips_timestamp"] = h["gov-client-local-ips-timestamp"]
    if "gov-client-mac-addresses" in h:
        out["mac_addresses"] = _items(h["gov-client-mac-addresses"])
    if "gov-client-multi-factor" in h:
        out["multi_factor"] = [
            {k.replace("-", "_"): v for k, v in _pairs(f).items()}
            for f in h["gov-client-multi-factor"].split(",")
        ]
    if "gov-client-public-ip" in h:
        out["public_ip"] = h["gov-client-public-ip"]
    if "gov-client-public-port" in h:
        out["public_port"] = h["gov-client-public-port"]
    if "gov-client-public-ip-timestamp" in h:
        out["public_ip_timestamp"] = h["gov-client-public-ip-timestamp"]
    if "gov-vendor-forwarded" in h:
        out["vendor_forwarded"] = [_pairs(hop) for hop in h["gov-vendor-forwarded"].split(",")]
    if "gov-vendor-version" in h:
        out["vendor_version"] = _pairs(h["gov-vendor-version"])
    if "gov-vendor-license-ids" in h:
        out["vendor_licence_ids"] = _pairs(h["gov-vendor-license-ids"])
    if "gov-vendor-product-name" in h:
        out["vendor_product_name"] = unquote(h["gov-vendor-product-name"])
    return out


def parse(
    json_object: Mapping[str, object] | None, headers: Mapping[str, str] | None
) -> DeviceData:
    """Device data from the JSON object, else from the headers; 422 naming what is wrong."""
    data: Mapping[str, object] = (
        json_object if json_object is not None else from_headers(headers or {})
    )
    try:
        return DeviceData.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"path": "/" + "/".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ProblemError(
            422,
            "INVALID_DEVICE_DATA",
            "The device data for HMRC's fraud prevention headers is not valid.",
            errors=errors,
        ) from None
