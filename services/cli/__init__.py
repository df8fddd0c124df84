"""`mtdvat`: the platform's command line for integrators and operators.

Run it as `python -m services.cli` (or `mtdvat` once installed as a console script).
"""
