"""The local stack: embedded PostgreSQL and NATS, migrations, and every service as a process."""
