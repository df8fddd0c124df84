"""Helpers for long-running asyncio loops."""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library turned into another exception.

    Some client libraries catch `CancelledError` inside a request and raise their own
    timeout instead; a retry loop that swallows that would never stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
