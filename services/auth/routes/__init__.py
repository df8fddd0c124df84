"""HTTP routers of the auth service: thin layers over the domain modules."""
