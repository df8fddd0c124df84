"""Chaos engineering: Litmus experiments for the cluster (litmus/) and the same faults as
drills against the local stack (drills/)."""
