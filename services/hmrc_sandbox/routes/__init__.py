"""Thin routers: each hands the request to the gateway with its endpoint and operation."""
