"""MTD VAT auth: Tenants, API clients, users with MFA, JWT signing keys and HMRC connections."""
