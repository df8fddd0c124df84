"""The AsyncAPI document parses, covers every stream the code declares, and its event
schemas are valid JSON Schema 2020-12 that agree with the code's models and states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from contracts import ASYNCAPI, EVENTS_DIR, REGENERATE, events
from services.common import audit_events
from services.common.messaging import streams
from services.submission.states import State


def _wildcard(subject: str) -> re.Pattern[str]:
    """A NATS subject filter (`audit.>`, `a.*.b`) as a regex over concrete subjects."""
    parts = [
        ".+" if t == ">" else "[^.]+" if t == "*" else re.escape(t) for t in subject.split(".")
    ]
    return re.compile(r"\.".join(parts))


def _example(address: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", address)


def test_document_is_asyncapi_3_and_every_reference_resolves() -> None:
    document = events.load_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    for name, operation in document["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        channel = events.resolve(document, operation["channel"]["$ref"])
        for message in operation["messages"]:
            assert events.resolve(document, message["$ref"]) in channel["messages"].values()
    for name, channel in document["channels"].items():
        for param in re.findall(r"\{([^}]+)\}", channel["address"]):
            assert param in channel.get("parameters", {}), f"{name}: {{{param}}} undeclared"
    for message in document["components"]["messages"].values():
        target = ASYNCAPI.parent / message["payload"]["$ref"]
        assert target.is_file(), target
        for trait in message.get("traits", []):
            events.resolve(document, trait["$ref"])


@pytest.mark.parametrize("path", sorted(EVENTS_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_event_schema_is_json_schema_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_stream_subject_is_covered_and_every_channel_is_stored() -> None:
    channels = events.channels()
    for stream in streams.ALL:
        for subject in stream.subjects:
            covered = [
                c.name for c in channels if _wildcard(subject).fullmatch(_example(c.address))
            ]
            assert covered, f"stream {stream.name} ({subject}) has no channel in asyncapi.yaml"
    stored = [_wildcard(s) for stream in streams.ALL for s in stream.subjects]
    for channel in channels:
        assert any(p.fullmatch(_example(channel.address)) for p in stored), (
            f"channel {channel.name} ({channel.address}) is on no stream: nothing would keep it"
        )


def test_state_parameters_list_every_state_of_the_state_machine() -> None:
    document = events.load_asyncapi()
    for name in ("submissionState", "auditSubmissionState"):
        assert set(document["channels"][name]["parameters"]["state"]["enum"]) == set(State)
    schema = json.loads((EVENTS_DIR / "submission-state.schema.json").read_text())
    assert set(schema["$defs"]["state"]["enum"]) == set(State)


def test_subjects_the_code_builds_land_on_the_right_channel() -> None:
    channels = events.channels()

    def channel(subject: str) -> str | None:
        found = events.channel_for(subject, channels)
        return found.name if found else None

    assert channel(audit_events.HMRC_EXCHANGE_SUBJECT) == "auditHmrcExchange"
    for state in State:
        assert channel(f"submission.{state}") == "submissionState"
        assert channel(audit_events.submission_state_subject(state)) == "auditSubmissionState"
    subject = audit_events.privileged_action_subject("auth", "tenant_created")
    assert channel(subject) == "auditPrivilegedAction"
    assert channel("dlq.audit-ingest") == "deadLetter"
    assert channel("submission.lost") is None
    assert channel("audit.billing.invoice_sent") is None


def test_generated_event_schemas_match_the_models() -> None:
    assert events.stale() == [], f"event schemas out of date: run `{REGENERATE}`"


def test_a_wrong_payload_is_reported_with_its_field() -> None:
    found = events.problems(
        "submission.accepted",
        {
            "submission_id": "not-a-uuid",
            "tenant_id": "t",
            "vrn": "123",
            "period_key": "24A1",
            "due_date": "2025-01-07",
            "from_state": "submitting",
            "to_state": "accepted",
            "reason": None,
            "code": None,
            "occurred_at": "2025-01-01T10:00:00",
        },
    )
    joined = "\n".join(found)
    assert "/submission_id" in joined and "/vrn" in joined and "/occurred_at" in joined
    assert len(found) == 3
