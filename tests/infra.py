"""Where tests find PostgreSQL and NATS: URLs in the environment (`DATABASE_URL`,
`NATS_URL`) first, then testcontainers when a Docker engine answers, otherwise embedded
servers on free ports in a temporary directory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from services.stack.embedded import EmbeddedNats, EmbeddedPostgres, free_port


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if docker_answers():  # pragma: no cover - no Docker engine on the development machines
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    server = EmbeddedPostgres(workdir / "postgres", free_port(), durable=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop(mode="immediate")


@contextlib.contextmanager
def nats_server(workdir: Path) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    if docker_answers():  # pragma: no cover - no Docker engine on the development machines
        from testcontainers.core.container import DockerContainer

        with DockerContainer("nats:2.11").with_command("-js").with_exposed_ports(4222) as c:
            yield f"nats://{c.get_container_host_ip()}:{c.get_exposed_port(4222)}"
        return
    server = EmbeddedNats(workdir / "nats", free_port(), free_port())
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
