"""Requirement checks as small named pure functions.

Per-response checks take one :class:`~conformance.run.records.RequestRecord` (or its decoded
parts) and return an :class:`Observation`; whole-run checks take many. Checks never decide a
verdict: they report what was observed, and ``verdicts`` judges it against the catalog.
A check that cannot tell (the evidence does not settle it) says so with ``ok=None``.
"""

from conformance.checks.findings import Observation

__all__ = ["Observation"]
