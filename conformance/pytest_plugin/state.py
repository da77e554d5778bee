"""Stash keys and marker helpers shared by the plugin's hooks and fixtures."""

from __future__ import annotations

import pytest

from conformance.pytest_plugin.session import Session

SESSION_KEY = pytest.StashKey[Session]()
MARKER = "requirement"


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    """Requirement ids named by the item's ``@pytest.mark.requirement(...)`` markers."""
    out: list[str] = []
    for m in item.iter_markers(MARKER):
        for a in m.args:
            for rid in str(a).replace(",", " ").split():
                if rid not in out:
                    out.append(rid)
    return tuple(out)
