"""MTD VAT platform services."""
