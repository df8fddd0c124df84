"""The smallest honest stand-in for HashiCorp Vault: no Vault server can be installed on
this machine (no `vault` binary; no PyPI or Debian package ships one, PyPI's `vault-dev`
only downloads it at run time, and nothing outside the registries can be fetched), so this
serves the two endpoints hvac calls for a KV v2 read — `GET /v1/<mount>/data/<path>` and
Kubernetes login `POST /v1/auth/<mount>/login`, nothing else — over real HTTP, with
Vault's response shapes, token checks and error codes. The client side (hvac, our SecretSource)
is the production code, unmodified."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class VaultState:
    root_token: str = field(default_factory=lambda: "hvs." + secrets.token_urlsafe(18))
    # {(mount, path): {key: value}}
    kv: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    # Kubernetes auth: {(role, service-account JWT)} that may sign in.
    k8s_logins: set[tuple[str, str]] = field(default_factory=set)
    issued: set[str] = field(default_factory=set)
    reads: int = 0
    version: int = 1

    def put(self, mount: str, path: str, data: dict[str, str]) -> None:
        self.kv[(mount, path)] = dict(data)
        self.version += 1


def _handler(state: VaultState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _authorised(self) -> bool:
            token = self.headers.get("X-Vault-Token")
            return token == state.root_token or token in state.issued

        def do_GET(self) -> None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) < 4 or parts[0] != "v1" or parts[2] != "data":
                return self._send(404, {"errors": []})
            if not self._authorised():
                return self._send(403, {"errors": ["permission denied"]})
            mount, path = parts[1], "/".join(parts[3:])
            data = state.kv.get((mount, path))
            if data is None:
                return self._send(404, {"errors": []})
            state.reads += 1
            meta = {"created_time": "2026-01-01T00:00:00Z", "deletion_time": ""}
            meta |= {"destroyed": False, "version": state.version}
            self._send(200, {"data": {"data": data, "metadata": meta}})

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[:2] != ["v1", "auth"] or parts[-1] != "login":
                return self._send(404, {"errors": []})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if (body.get("role"), body.get("jwt")) not in state.k8s_logins:
                return self._send(403, {"errors": ["permission denied"]})
            token = "hvs." + secrets.token_urlsafe(18)
            state.issued.add(token)
            self._send(200, {"auth": {"client_token": token, "lease_duration": 3600}})

    return Handler


@contextmanager
def vault_substitute() -> Iterator[tuple[str, VaultState]]:
    state = VaultState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
