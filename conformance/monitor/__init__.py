"""Continuous monitoring of many token services: campaigns, probes, a store, figures with
confidence intervals, a ranking with shared ranks, static and signed monthly reports, a
live dashboard and a demo. Only the CLI imports this package."""
