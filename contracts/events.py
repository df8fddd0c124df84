"""The platform's NATS events: the AsyncAPI document, a JSON Schema (2020-12) per event, and
which schema a message on a given subject must follow.

The audit events' schemas are generated from their pydantic models
(`services/common/audit_events.py`), so the contract and the code cannot drift apart
unnoticed; the others are written by hand in `contracts/events/`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from pydantic import BaseModel

from contracts import ASYNCAPI, EVENTS_DIR
from services.common import audit_events

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://mtd-vat.example/contracts/events/"

GENERATED: dict[str, type[BaseModel]] = {
    "audit-hmrc-exchange": audit_events.HmrcExchange,
    "audit-submission-state": audit_events.SubmissionStateChange,
    "audit-privileged-action": audit_events.PrivilegedAction,
}


def schema_path(name: str) -> Path:
    return EVENTS_DIR / f"{name}.schema.json"


def generated_schema(name: str) -> dict[str, Any]:
    schema = GENERATED[name].model_json_schema(mode="serialization")
    return {"$schema": DRAFT, "$id": f"{ID_BASE}{name}.schema.json", **schema}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_generated() -> list[Path]:
    EVENTS_DIR.mkdir(exist_ok=True)
    written = []
    for name in GENERATED:
        schema_path(name).write_text(render(generated_schema(name)))
        written.append(schema_path(name))
    return written


def stale() -> list[str]:
    return [
        name
        for name in GENERATED
        if not schema_path(name).exists()
        or schema_path(name).read_text() != render(generated_schema(name))
    ]


def load_asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text())
    return document


@dataclass(frozen=True)
class Channel:
    name: str
    address: str
    pattern: re.Pattern[str]
    schema_file: Path

    def validator(self) -> Draft202012Validator:
        return _validator(self.schema_file)


FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _date_time(value: object) -> bool:
    # jsonschema checks date-time only with an optional package; RFC 3339 needs an offset.
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


@cache
def _validator(path: Path) -> Draft202012Validator:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """A local `#/a/b` reference inside the AsyncAPI document."""
    assert ref.startswith("#/"), f"only local references are followed here: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _address_pattern(address: str, parameters: dict[str, Any]) -> re.Pattern[str]:
    """`submission.{state}` with its parameter's enum -> a regex over concrete subjects."""
    out, pos = [], 0
    for m in re.finditer(r"\{([^}]+)\}", address):
        out.append(re.escape(address[pos : m.start()]))
        param = parameters.get(m.group(1), {})
        if "enum" in param:
            out.append("(?:" + "|".join(re.escape(v) for v in param["enum"]) + ")")
        else:
            out.append("[^.]+")
        pos = m.end()
    out.append(re.escape(address[pos:]))
    return re.compile("".join(out))


def channels(document: dict[str, Any] | None = None) -> list[Channel]:
    document = document or load_asyncapi()
    found = []
    for name, channel in document["channels"].items():
        messages = list(channel["messages"].values())
        assert len(messages) == 1, f"channel {name}: one message per channel"
        message = resolve(document, messages[0]["$ref"]) if "$ref" in messages[0] else messages[0]
        payload_ref = message["payload"]["$ref"]
        found.append(
            Channel(
                name,
                channel["address"],
                _address_pattern(channel["address"], channel.get("parameters", {})),
                (ASYNCAPI.parent / payload_ref).resolve(),
            )
        )
    return found


def channel_for(subject: str, known: list[Channel] | None = None) -> Channel | None:
    matching = [c for c in (known or channels()) if c.pattern.fullmatch(subject)]
    assert len(matching) <= 1, f"{subject} matches several channels: {[c.name for c in matching]}"
    return matching[0] if matching else None


def problems(subject: str, payload: Any, known: list[Channel] | None = None) -> list[str]:
    """Why a message does not follow the contract (empty when it does)."""
    channel = channel_for(subject, known)
    if channel is None:
        return [f"{subject}: no channel in asyncapi.yaml covers this subject"]
    return [
        f"{subject} ({channel.schema_file.name}) at /{'/'.join(map(str, e.absolute_path))}: "
        f"{e.message}"
        for e in channel.validator().iter_errors(payload)
    ]
