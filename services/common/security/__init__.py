"""Security helpers shared by services: verifying the platform's access tokens."""
