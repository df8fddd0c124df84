"""NATS JetStream messaging: connection, streams, transactional outbox, idempotent consumers."""
