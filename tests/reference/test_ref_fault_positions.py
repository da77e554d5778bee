""""One request in k" defects fall once per block of k requests, at a seeded position.

A fault on the first request (or every k-th) is what no real defect does, and what a run
can be tuned to (its preflight is the first request): the position within each block is
drawn from the service's ``--seed``, the same for the same seed, different across seeds.
"""

from __future__ import annotations

import pytest
from refclient import body, post

from conformance.reference import ReferenceService
from conformance.reference.state import fault_position

BLOCKS = 200


def _positions(seed: int, defect: str = "random_5xx", every: int = 6) -> list[int]:
    return [fault_position(seed, defect, b, every) for b in range(BLOCKS)]


def test_exactly_one_fault_per_block_at_a_valid_position() -> None:
    for every in (2, 3, 6, 10, 20, 50):
        ps = _positions(0, every=every)
        assert all(0 <= p < every for p in ps)
    assert all(fault_position(s, "random_5xx", b, 1) == 0 for s in range(3) for b in range(5))


def test_positions_are_reproducible_for_a_seed_and_differ_by_seed() -> None:
    assert _positions(7) == _positions(7)
    assert _positions(7) != _positions(8)
    assert _positions(0, "random_5xx") != _positions(0, "truncated_streams")  # per defect


def test_the_fault_is_not_always_first_and_spreads_over_the_block() -> None:
    ps = _positions(0, every=6)
    assert set(ps) == set(range(6))  # every position occurs over 200 blocks
    assert ps.count(0) < BLOCKS // 3  # ~1/6 of blocks, not all of them


@pytest.mark.parametrize("seed", [1, 2])
def test_the_service_fails_the_seeded_request_of_each_block(seed: int) -> None:
    every, blocks = 4, 3
    with ReferenceService.start(defects=[f"random_5xx={every}"], seed=seed) as svc:
        failed = [post(svc, body(max_tokens=1)).status_code == 500
                  for _ in range(every * blocks)]
        assert f"seed {seed}" in svc.log()
    expected = [i % every == fault_position(seed, "random_5xx", i // every, every)
                for i in range(every * blocks)]
    assert failed == expected
    assert sum(failed) == blocks  # exactly one per block
