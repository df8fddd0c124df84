"""MTD VAT audit: Append-only, hash-chained audit log of every HMRC exchange and privileged
action.
"""
