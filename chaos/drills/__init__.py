"""Chaos drills against the local stack, written as chaostoolkit experiments.

Each drill runs under a steady background submission load: steady state is checked before
the fault, the fault is injected and ended, the time until the platform is steady again is
measured, and the integrity invariants (services/integrity plus the simulator's counters)
must hold afterwards. `python -m chaos.drills` runs them all; `--drill NAME` runs one.

Steady state: every service answers /readyz, the latest load POSTs were all accepted
(202), and the oldest return still waiting (submission's /v1/status) is younger than a
bound.
"""
