"""MTD VAT submission: VAT returns: validation, idempotency, a durable deadline-ordered queue,
exactly-once submission.
"""
