"""The audit service's fixtures (a migrated database, the app consuming real NATS), reused
to build audit logs for the integrity checks."""

from tests.audit.conftest import audit, audit_db_url, js, mint, publish, settings

__all__ = ["audit", "audit_db_url", "js", "mint", "publish", "settings"]
