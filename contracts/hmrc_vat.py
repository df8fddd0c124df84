"""Check HTTP exchanges with HMRC's VAT API against HMRC's published OpenAPI document
(`hmrc/vat-api/openapi-current/application.yaml`, OpenAPI 3.0.3).

Used by tests on what the gateway sends and what the simulator answers: path and query
parameters, request bodies, and response bodies per documented status. Statuses HMRC's
platform may answer on any endpoint (401, 406, 429, 5xx; HMRC's reference guide, see
`hmrc/platform/oauth-and-platform.json`) are checked against the error body shape only."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import yaml  # type: ignore[import-untyped]
from jsonschema import Draft4Validator  # type: ignore[import-untyped]

from contracts import HMRC_VAT_OPENAPI

PLATFORM_STATUSES = frozenset({401, 406, 429, 500, 502, 503, 504})
# Where HMRC's code and its OpenAPI document disagree, HMRC's code wins (see
# hmrc/vat-api/derived/error-catalogue.json): a period key never submitted is an empty 404.
EMPTY_BODY_ALLOWED = frozenset({("ViewVATReturn", 404)})


def _exact(node: Any) -> Any:
    # Money is `multipleOf: 0.01`; binary floats would refuse 100.10, so compare decimals.
    if isinstance(node, float):
        return Decimal(str(node))
    # YAML reads HMRC's example dates as dates; in JSON they are strings.
    if isinstance(node, date):
        return node.isoformat()
    if isinstance(node, dict):
        return {k: _exact(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_exact(v) for v in node]
    return node


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = _exact(yaml.safe_load(HMRC_VAT_OPENAPI.read_text()))
    return loaded


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: dict[str, Any]
    path_params: dict[str, str]

    @property
    def id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.template}"))

    def parameters(self) -> list[dict[str, Any]]:
        item = document()["paths"][self.template]
        return [*item.get("parameters", []), *self.spec.get("parameters", [])]


def find(method: str, path: str) -> Operation | None:
    for template, item in document()["paths"].items():
        names = re.findall(r"\{([^}]+)\}", template)
        regex = re.escape(template)
        for name in names:
            regex = regex.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>[^/]+)")
        m = re.fullmatch(regex, path)
        if m and method.lower() in item:
            return Operation(template, method.lower(), item[method.lower()], m.groupdict())
    return None


def _validator(schema: dict[str, Any]) -> Draft4Validator:
    # Local references (#/components/...) resolve against the whole document.
    root = {**schema, "components": document()["components"]}
    return Draft4Validator(root, format_checker=Draft4Validator.FORMAT_CHECKER)


def _schema_problems(where: str, schema: dict[str, Any], value: Any) -> list[str]:
    return [
        f"{where} /{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(schema).iter_errors(value)
    ]


def _json(body: bytes) -> Any:
    return json.loads(body, parse_float=Decimal)


def request_problems(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
) -> list[str]:
    op = find(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in HMRC's VAT API"]
    found: list[str] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    known_query = set()
    for param in op.parameters():
        name, where, schema = param["name"], param["in"], param.get("schema", {})
        value = {
            "path": op.path_params.get(name),
            "query": query.get(name),
            "header": lowered.get(name.lower()),
        }.get(where)
        if where == "query":
            known_query.add(name)
        if value is None:
            if param.get("required"):
                found.append(f"{op.id}: required {where} parameter {name} is missing")
            continue
        found += _schema_problems(f"{op.id} {where} parameter {name}", schema, value)
    found += [
        f"{op.id}: query parameter {q} is not in HMRC's API" for q in query.keys() - known_query
    ]
    if not lowered.get("authorization", "").startswith("Bearer "):
        found.append(f"{op.id}: no Bearer token (HMRC's security scheme is OAuth 2.0)")
    if lowered.get("accept") != "application/vnd.hmrc.1.0+json":
        found.append(f"{op.id}: Accept must be application/vnd.hmrc.1.0+json")
    request_body = op.spec.get("requestBody")
    if request_body is None:
        if body:
            found.append(f"{op.id}: HMRC's API takes no request body here")
        return found
    if not lowered.get("content-type", "").startswith("application/json"):
        found.append(f"{op.id}: the request body must be application/json")
    try:
        parsed = _json(body)
    except ValueError:
        return [*found, f"{op.id}: the request body is not JSON"]
    schema = request_body["content"]["application/json"]["schema"]
    return found + _schema_problems(f"{op.id} request body", schema, parsed)


def response_problems(method: str, path: str, status: int, body: bytes) -> list[str]:
    op = find(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in HMRC's VAT API"]
    responses = op.spec["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None and status in PLATFORM_STATUSES:
        response = {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/errorResponse"}}
            }
        }
    if response is None:
        return [f"{op.id}: status {status} is not documented (documented: {sorted(responses)})"]
    content = response.get("content", {}).get("application/json")
    if not body and (op.id, status) in EMPTY_BODY_ALLOWED:
        return []
    if content is None:
        return [] if not body else [f"{op.id} {status}: HMRC documents no body, got one"]
    try:
        parsed = _json(body)
    except ValueError:
        return [f"{op.id} {status}: the response body is not JSON"]
    return _schema_problems(f"{op.id} {status} response body", content["schema"], parsed)
