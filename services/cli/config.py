"""Where the CLI finds the platform and its credentials: flags, then the environment, then
the local stack's `stack.env` (in `MTD_LOCAL_DIR`, default `.local`), so `mtdvat` works
against `make up` with no setup and against any deployment with a few variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def stack_env(local_dir: str | None = None) -> dict[str, str]:
    """The local stack's `KEY=value` file, or nothing when there is none."""
    path = Path(local_dir or os.environ.get("MTD_LOCAL_DIR", ".local")) / "stack.env"
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


@dataclass(frozen=True)
class Config:
    auth_url: str
    obligations_url: str
    submission_url: str
    audit_url: str
    sandbox_url: str | None
    client_id: str | None
    client_secret: str | None
    admin_client_id: str | None
    admin_client_secret: str | None
    hmrc_client_id: str | None
    hmrc_client_secret: str | None

    @classmethod
    def load(cls, **flags: str | None) -> Config:
        """Each value from its flag, else `MTD_<NAME>` / the stack's name in the environment,
        else stack.env."""
        stack = stack_env()

        def pick(name: str, *keys: str) -> str | None:
            if flags.get(name):
                return flags[name]
            for key in keys:
                if os.environ.get(key):
                    return os.environ[key]
            for key in keys:
                if stack.get(key):
                    return stack[key]
            return None

        def url(name: str, key: str) -> str:
            found = pick(name, f"MTD_{key}", key)
            if not found:
                raise SystemExit(
                    f"error: no {key}: pass --{name.replace('_', '-')}, set MTD_{key}, "
                    "or run `make up` so .local/stack.env names it"
                )
            return found.rstrip("/")

        return cls(
            auth_url=url("auth_url", "AUTH_URL"),
            obligations_url=url("obligations_url", "OBLIGATIONS_URL"),
            submission_url=url("submission_url", "SUBMISSION_URL"),
            audit_url=url("audit_url", "AUDIT_URL"),
            sandbox_url=pick("sandbox_url", "MTD_HMRC_SANDBOX_URL", "HMRC_SANDBOX_URL"),
            client_id=pick("client_id", "MTD_CLIENT_ID"),
            client_secret=pick("client_secret", "MTD_CLIENT_SECRET"),
            admin_client_id=pick("admin_client_id", "MTD_ADMIN_CLIENT_ID", "BOOTSTRAP_CLIENT_ID"),
            admin_client_secret=pick(
                "admin_client_secret", "MTD_ADMIN_CLIENT_SECRET", "BOOTSTRAP_CLIENT_SECRET"
            ),
            hmrc_client_id=pick("hmrc_client_id", "HMRC_CLIENT_ID"),
            hmrc_client_secret=pick("hmrc_client_secret", "HMRC_CLIENT_SECRET"),
        )
