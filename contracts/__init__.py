"""The platform's published contracts: each service's OpenAPI document, the AsyncAPI
document of every NATS subject with a JSON Schema per event, HMRC's own specifications
(`hmrc/`), and the tools that regenerate and check them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
OPENAPI_DIR = ROOT / "openapi"
EVENTS_DIR = ROOT / "events"
ASYNCAPI = ROOT / "asyncapi.yaml"
HMRC_VAT_OPENAPI = ROOT / "hmrc" / "vat-api" / "openapi-current" / "application.yaml"
REGENERATE = "python -m contracts"
