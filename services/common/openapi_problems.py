"""Make each service's OpenAPI document say how it answers errors: with
`application/problem+json` (services/common/errors.py), for any status, and for request
validation with a 422 problem listing the fields — not FastAPI's default `HTTPValidationError`
body, which no service ever sends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from services.common.errors import PROBLEM_JSON

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is stable and clients switch on it.",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

Errors = Callable[[str], dict[str, Any]]


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def _problems(_: str) -> dict[str, Any]:
    return problem_response("An error, as problem details")


def describe(schema: dict[str, Any], errors_for: Errors = _problems) -> dict[str, Any]:
    """Rewrite `schema` in place: every operation's errors as `errors_for(path)` says."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            error = errors_for(path)
            if "422" in responses:
                responses["422"] = {**error, "description": "The request did not validate"}
            responses["default"] = error
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    text = repr(schema.get("paths"))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}'" not in text:
            schemas.pop(unused, None)
    return schema


def document_errors(app: FastAPI, errors_for: Errors = _problems) -> None:
    """Have `app.openapi()` describe the service's error answers (cached like FastAPI's)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(generate(), errors_for)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
