"""MTD VAT obligations: The read side of a VAT account: obligations, liabilities and payments,
cached honestly.
"""
