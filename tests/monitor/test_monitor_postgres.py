"""The PostgreSQL store against a real server started here: migrations run once with
several probers starting together, and probers writing concurrently lose and duplicate
nothing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from monitor_testkit import write_campaign
from pgserver import postgres_server, unavailable_reason

from conformance.monitor.campaign import load_campaign
from conformance.monitor.prober import Prober, RoundOutcome
from conformance.monitor.scheduler import Runner
from conformance.monitor.store import Store, open_store

pytestmark = pytest.mark.skipif(unavailable_reason() is not None,
                                reason=unavailable_reason() or "")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def test_two_probers_concurrently(pg_url: str, tmp_path: Path,
                                  ref_target: tuple[Path, dict[str, str]],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    decl, env = ref_target
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # four processes' worth of probers: two places (eu, us), each started twice
    names = ["eu", "us", "eu", "us"]
    stores: list[Store] = [None] * len(names)  # type: ignore[list-item]
    barrier = threading.Barrier(len(names))
    results: list[list[RoundOutcome]] = [[] for _ in names]
    errors: list[BaseException] = []
    slots = [datetime(2026, 12, 5, 10, m, 1, tzinfo=UTC) for m in range(3)]

    def prober(i: int) -> None:
        try:
            barrier.wait()
            stores[i] = open_store(pg_url)  # concurrent start: migrations under a lock
            c = load_campaign(write_campaign(tmp_path / f"m{i}.yaml", decl, prober=names[i],
                                             parallel=3))
            runner = Runner(Prober(c, stores[i]))
            for now in slots:
                barrier.wait()
                results[i] += runner.run_due(now)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=prober, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    store = stores[0]
    rounds = store.rounds("test")
    keys = Counter((r["prober"], r["scenario"], r["slot"]) for r in rounds)
    assert len(keys) == 2 * 2 * len(slots) and set(keys.values()) == {1}  # none twice
    assert {r["status"] for r in rounds} == {"done"}  # none lost
    ran = [r for res in results for r in res if r.status != "skipped"]
    assert len(ran) == len(rounds)  # exactly one of each pair of twins ran each round
    reqs = store.requests(campaign="test")
    assert len(reqs) == sum(r["n_requests"] for r in rounds) == len(slots) * 2 * (1 + 3)
    assert len({r["request_uid"] for r in reqs}) == len(reqs)
    by_round = Counter(r["round_id"] for r in reqs)
    assert all(by_round[r["id"]] == r["n_requests"] for r in rounds)
    assert store.dialect == "postgresql"
    for s in stores:
        s.close()
