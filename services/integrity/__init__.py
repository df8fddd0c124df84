"""Integrity invariants after a chaos drill: no lost return, none sent twice, audit chain valid."""
