"""tokencert pytest plugin (entry point ``pytest11``). Inert unless its options are given.

Placeholder until the plugin lands: registers nothing, so the toolkit's own test runs work.
"""
