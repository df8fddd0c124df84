"""Is this exception PostgreSQL being unreachable (restarting, failing over, refusing
connections) rather than a fault in the request? Such requests did nothing and can be sent
again, so they are answered 503 DATABASE_UNAVAILABLE with Retry-After, not 500."""

from __future__ import annotations

from types import TracebackType

import asyncpg.exceptions as pg
from sqlalchemy.exc import DBAPIError

# What asyncpg raises while the server shuts down, starts up or has gone away. Not the
# other OperatorInterventionError kinds: a cancelled statement is the request's own doing.
_UNAVAILABLE = (
    pg.PostgresConnectionError,
    pg.CannotConnectNowError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
)
# Exception types the error handlers route here (the check below decides).
CANDIDATES: tuple[type[Exception], ...] = (*_UNAVAILABLE, DBAPIError, OSError)


def _through_driver(tb: TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, DBAPIError):
        # SQLAlchemy wraps what the driver raised mid-query; it marks a dropped connection.
        cause = getattr(exc.orig, "__cause__", None)
        return exc.connection_invalidated or isinstance(cause, _UNAVAILABLE)
    # Connection refused or timed out: an OSError out of the driver's connect, not our I/O.
    return isinstance(exc, OSError) and _through_driver(exc.__traceback__)
