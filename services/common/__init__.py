"""Shared library of the platform's services: settings, logging, telemetry, data, messaging."""
