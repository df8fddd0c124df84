"""Connection details for the PostgreSQL client tools. The password travels in PGPASSWORD,
never on a command line (where `ps` would show it)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.common.database import async_url


@dataclass(frozen=True)
class Conn:
    host: str
    port: int
    user: str
    password: str | None
    database: str

    @staticmethod
    def from_url(url: str) -> Conn:
        parsed = async_url(url)
        return Conn(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username or "postgres",
            password=parsed.password if isinstance(parsed.password, str) else None,
            database=parsed.database or "postgres",
        )

    def on(self, database: str) -> Conn:
        return Conn(self.host, self.port, self.user, self.password, database)

    def args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def asyncpg_kwargs(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
        }

    def sqlalchemy_url(self) -> str:
        url = async_url(f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}")
        if self.password:
            url = url.set(password=self.password)
        return url.render_as_string(hide_password=False)
