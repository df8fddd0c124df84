"""The synthetic canary: the sandbox journey an API client makes, run on a schedule, with
its result and duration exported as metrics (`canary_*`, see deploy/telemetry/registry.yaml)."""
