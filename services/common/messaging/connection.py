"""NATS connection with endless reconnects, and JetStream stream declarations."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.common.logging import get_logger

log = get_logger(__name__)

DEAD_LETTER_STREAM = "DEAD_LETTER"
DEAD_LETTER_PREFIX = "dlq"


@dataclass(frozen=True)
class StreamSpec:
    """A stream the service relies on; declared (created or updated) at start-up."""

    name: str
    subjects: list[str]
    # Broker-side de-duplication of `Nats-Msg-Id`; the inbox covers anything older.
    duplicate_window_s: float = 600.0
    max_age_s: float = 14 * 24 * 3600.0
    replicas: int = 1
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=self.subjects,
            description=self.description or None,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=self.duplicate_window_s,
            max_age=self.max_age_s,
            num_replicas=self.replicas,
        )


DEAD_LETTER = StreamSpec(
    name=DEAD_LETTER_STREAM,
    subjects=[f"{DEAD_LETTER_PREFIX}.>"],
    max_age_s=90 * 24 * 3600.0,
    description="Messages a consumer gave up on after max_deliver attempts",
)


async def connect(url: str, name: str, *, connect_timeout: float = 2.0) -> Client:
    """A long-lived connection: reconnects forever after the first connect succeeds."""

    async def on_disconnect() -> None:
        log.warning("nats disconnected", client=name)

    async def on_reconnect() -> None:
        log.info("nats reconnected", client=name)

    async def on_error(exc: Exception) -> None:
        log.warning("nats error", client=name, error=str(exc))

    await probe(url, name, connect_timeout=connect_timeout)
    return await nats.connect(
        servers=[url],
        name=name,
        connect_timeout=connect_timeout,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )


async def probe(url: str, name: str, *, connect_timeout: float = 2.0) -> None:
    """Connect once and close; raises when the server does not answer.

    Done before `connect` because a client that reconnects forever would also wait forever
    for a server that was never there."""

    async def quiet(_: Exception) -> None:
        return None

    # max_reconnect_attempts=0 would retry the first server forever; 1 gives up.
    nc = await asyncio.wait_for(
        nats.connect(
            servers=[url],
            name=name,
            connect_timeout=connect_timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=quiet,
        ),
        timeout=connect_timeout * 3,
    )
    await nc.close()


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    config = spec.config()
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream created", stream=spec.name, subjects=spec.subjects)
    else:
        await js.update_stream(config)
