"""The platform's public API as the CLI (and the demo) use it: one method per call, and a
problem document turned into `ApiError` so callers print it instead of a traceback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from services.cli import device
from services.cli.config import Config

HMRC_JSON = "application/vnd.hmrc.1.0+json"
FINAL = ("accepted", "rejected")


class ApiError(Exception):
    """An answer that was not a success: the problem document, or what there was."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.method = response.request.method
        self.url = str(response.request.url.copy_with(query=None))
        try:
            body = response.json()
        except ValueError:
            body = None
        self.problem: dict[str, Any] = (
            body if isinstance(body, dict) else {"detail": response.text[:500]}
        )
        self.code = str(self.problem.get("code") or f"HTTP_{self.status}")
        self.request_id = response.headers.get("x-request-id")
        super().__init__(f"{self.status} {self.code}: {self.problem.get('detail', '')}")


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ApiError(response)
    return response


@dataclass
class Session:
    """An access token for the client credentials, fetched when first needed."""

    http: httpx.Client
    token_url: str
    client_id: str | None
    client_secret: str | None
    _token: str | None = None
    _expires: float = 0.0

    def bearer(self) -> dict[str, str]:
        if self._token is None or time.monotonic() > self._expires:
            if not self.client_id or not self.client_secret:
                raise SystemExit(
                    "error: no API client credentials: pass --client-id/--client-secret "
                    "or set MTD_CLIENT_ID and MTD_CLIENT_SECRET"
                )
            r = _ok(
                self.http.post(
                    self.token_url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
            )
            body = r.json()
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 300)) - 30
        return {"Authorization": f"Bearer {self._token}"}


class Platform:
    def __init__(self, config: Config, *, timeout: float = 30.0) -> None:
        self.config = config
        self.http = httpx.Client(timeout=timeout)
        token_url = f"{config.auth_url}/v1/auth/token"
        self.client = Session(self.http, token_url, config.client_id, config.client_secret)
        self.admin = Session(
            self.http, token_url, config.admin_client_id, config.admin_client_secret
        )

    def close(self) -> None:
        self.http.close()

    def with_client(self, client_id: str, client_secret: str) -> None:
        """Act as this API client from now on (after creating it)."""
        self.client = Session(self.http, self.client.token_url, client_id, client_secret)

    # -- tenants and API clients (a platform admin's credentials) ----------------------------
    def create_tenant(self, name: str) -> dict[str, Any]:
        r = self.http.post(
            f"{self.config.auth_url}/v1/tenants", json={"name": name}, headers=self.admin.bearer()
        )
        return dict(_ok(r).json())

    def create_client(self, tenant_id: str, name: str, roles: list[str]) -> dict[str, Any]:
        r = self.http.post(
            f"{self.config.auth_url}/v1/tenants/{tenant_id}/clients",
            json={"name": name, "roles": roles},
            headers=self.admin.bearer(),
        )
        return dict(_ok(r).json())

    # -- HMRC connections ----------------------------------------------------------------------
    def start_connection(self, vrn: str) -> dict[str, Any]:
        r = self.http.post(
            f"{self.config.auth_url}/v1/connections",
            json={"vrn": vrn},
            headers=self.client.bearer(),
        )
        return dict(_ok(r).json())

    def connections(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.config.auth_url}/v1/connections", headers=self.client.bearer())
        return list(_ok(r).json())

    def _sandbox(self) -> str:
        if not self.config.sandbox_url:
            raise SystemExit("error: no HMRC sandbox URL: set HMRC_SANDBOX_URL")
        return self.config.sandbox_url.rstrip("/")

    def sandbox_user(self) -> dict[str, Any]:
        """A test organisation at the HMRC sandbox (userId, password, vrn …)."""
        sandbox = self._sandbox()
        r = _ok(
            self.http.post(
                f"{sandbox}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.config.hmrc_client_id or "",
                    "client_secret": self.config.hmrc_client_secret or "",
                },
            )
        )
        app_token = r.json()["access_token"]
        r = self.http.post(
            f"{sandbox}/create-test-user/organisations",
            json={"serviceNames": ["mtd-vat"]},
            headers={"Authorization": f"Bearer {app_token}", "Accept": HMRC_JSON},
        )
        return dict(_ok(r).json())

    def sandbox_consent(self, authorize_url: str, user_id: str, password: str) -> dict[str, Any]:
        """What a taxpayer does on the sandbox's consent page: sign in, grant; then the
        redirect back to the platform completes the connection."""
        params = dict(parse_qsl(urlsplit(authorize_url).query))
        r = self.http.post(
            f"{self._sandbox()}/oauth/authorize",
            data={**params, "user_id": user_id, "password": password, "decision": "grant"},
        )
        if r.status_code not in (302, 303):
            raise ApiError(r)
        return dict(_ok(self.http.get(r.headers["location"])).json())

    # -- obligations and returns -----------------------------------------------------------
    def obligations(self, vrn: str, params: dict[str, str]) -> dict[str, Any]:
        r = self.http.get(
            f"{self.config.obligations_url}/v1/vat/{vrn}/obligations",
            params=params,
            headers={**self.client.bearer(), **device.headers()},
        )
        return dict(_ok(r).json())

    def submit(self, vrn: str, body: str, idempotency_key: str | None = None) -> dict[str, Any]:
        r = self.http.post(
            f"{self.config.submission_url}/v1/vat/{vrn}/returns",
            content=body,
            headers={
                **self.client.bearer(),
                **device.headers(),
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key or str(uuid.uuid4()),
            },
        )
        return dict(_ok(r).json())

    def status(self, vrn: str, submission_id: str) -> dict[str, Any]:
        r = self.http.get(
            f"{self.config.submission_url}/v1/vat/{vrn}/returns/{submission_id}",
            headers=self.client.bearer(),
        )
        return dict(_ok(r).json())

    def wait(
        self,
        vrn: str,
        submission_id: str,
        *,
        timeout: float = 300.0,
        every: float = 1.0,
        seen: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the status until it is final (or `timeout`), telling `seen` each answer."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.status(vrn, submission_id)
            if seen is not None:
                seen(current)
            if current["status"] in FINAL or time.monotonic() > deadline:
                return current
            time.sleep(every)

    # -- audit evidence and webhooks -------------------------------------------------------
    def evidence(self, start: str, end: str, vrn: str | None = None) -> Iterator[bytes]:
        params = {"from": start, "to": end, **({"vrn": vrn} if vrn else {})}
        with self.http.stream(
            "GET",
            f"{self.config.audit_url}/v1/audit/evidence",
            params=params,
            headers=self.client.bearer(),
        ) as r:
            if r.status_code >= 400:
                r.read()
                raise ApiError(r)
            yield from r.iter_bytes()

    def add_webhook(self, url: str, events: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url, **({"events": events} if events else {})}
        r = self.http.post(
            f"{self.config.submission_url}/v1/webhooks", json=body, headers=self.client.bearer()
        )
        return dict(_ok(r).json())

    def webhooks(self) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.config.submission_url}/v1/webhooks", headers=self.client.bearer())
        return list(_ok(r).json()["webhooks"])

    def delete_webhook(self, webhook_id: str) -> None:
        r = self.http.delete(
            f"{self.config.submission_url}/v1/webhooks/{webhook_id}", headers=self.client.bearer()
        )
        _ok(r)

    def deliveries(self, webhook_id: str) -> list[dict[str, Any]]:
        r = self.http.get(
            f"{self.config.submission_url}/v1/webhooks/{webhook_id}/deliveries",
            headers=self.client.bearer(),
        )
        return list(_ok(r).json()["deliveries"])
