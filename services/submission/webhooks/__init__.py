"""Webhooks: an API client is told, by a signed HTTP POST, when a return is accepted or rejected.

The ledger's own state-transition events (`submission.accepted`, `submission.rejected`, through
the outbox and JetStream) are fanned out into one delivery row per registered webhook; a
sender works the rows from PostgreSQL with exponential backoff and jitter, so a receiver that
is down, or this process restarting, loses nothing.
"""
