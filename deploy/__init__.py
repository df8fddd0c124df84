"""Deployment helpers that run inside the platform image (see charts/ and the Dockerfile)."""
