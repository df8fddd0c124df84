"""Litmus chaos for the cluster: ChaosEngines with steady-state probes, their RBAC, a weekly
ChaosSchedule, and a runner that applies them in order and reads each verdict."""
