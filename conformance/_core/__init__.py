"""Bottom layer: imports nothing else from ``conformance``."""
