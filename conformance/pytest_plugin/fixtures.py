"""Fixtures for requirement tests. Registered only while a tokencert session is active.

=================  =========  ====================================================
fixture            scope      what it gives
=================  =========  ====================================================
tokencert_session  session    the :class:`Session` (catalog, profile, plan, store)
declaration        session    the candidate's :class:`Declaration`
catalog / plan     session    the catalog and the run's :class:`Plan`
tokenizer          session    :class:`TokenizerKit` (declared tokenizer + template)
client             session    :class:`ProbeClient`: single requests, recorded
load_runner        session    ``load_runner("phase") -> PhaseData`` (run once)
sustained_phase    session    the shared sustained-load phase (PERF/STAB)
evidence           session    the :class:`EvidenceStore`
requirement        function   the :class:`Requirement` of the test's marker
thresholds         function   ``{level: (Condition, ...)}`` from the catalog
record             function   :class:`Recorder` for measurements and flags
=================  =========  ====================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import PhaseData, Session, TokenizerKit
from conformance.pytest_plugin.state import SESSION_KEY, requirement_ids
from conformance.run.client import ChatParams, Client
from conformance.run.evidence import EvidenceStore
from conformance.run.records import RequestRecord
from conformance.spec import Catalog, Condition, Level, Requirement


class ProbeClient:
    """Sends single requests to the candidate; every one is recorded as evidence with the
    id ``<phase>-<tag>`` (tags must be unique within a phase and stable across runs)."""

    def __init__(self, session: Session) -> None:
        self._s = session
        self.dialect: str = session.declaration.endpoint.dialect  # the declared wire dialect

    def chat(self, tag: str, params: ChatParams, *, phase: str = "protocol"
             ) -> RequestRecord:
        return self._s.probe([(tag, params)], phase)[0]

    def get(self, tag: str, path: str, *, phase: str = "protocol") -> RequestRecord:
        return self._s.probe([(tag, path)], phase)[0]

    def many(self, requests: Sequence[tuple[str, ChatParams | str]], *,
             phase: str = "protocol") -> list[RequestRecord]:
        return self._s.probe(requests, phase)

    def async_client(self) -> Client:
        """A raw measuring client (not recorded: call ``evidence.request(rec)`` yourself)."""
        s = self._s
        return Client(s.client_config(), redactor=s.redactor,
                      count_tokens=s.tokenizer.tokenizer.count)


@pytest.fixture(scope="session")
def tokencert_session(request: pytest.FixtureRequest) -> Session:
    return request.config.stash[SESSION_KEY]


@pytest.fixture(scope="session")
def declaration(tokencert_session: Session) -> Declaration:
    return tokencert_session.declaration


@pytest.fixture(scope="session")
def catalog(tokencert_session: Session) -> Catalog:
    return tokencert_session.catalog


@pytest.fixture(scope="session")
def plan(tokencert_session: Session) -> Plan:
    return tokencert_session.plan


@pytest.fixture(scope="session")
def tokenizer(tokencert_session: Session) -> TokenizerKit:
    return tokencert_session.tokenizer


@pytest.fixture(scope="session")
def client(tokencert_session: Session) -> ProbeClient:
    return ProbeClient(tokencert_session)


@pytest.fixture(scope="session")
def load_runner(tokencert_session: Session) -> Callable[[str], PhaseData]:
    return tokencert_session.run_phase


@pytest.fixture(scope="session")
def sustained_phase(load_runner: Callable[[str], PhaseData]) -> PhaseData:
    """One sustained-load phase for the whole session (PERF-001..005, STAB-001/002/005/006)."""
    return load_runner("sustained")


@pytest.fixture(scope="session")
def evidence(tokencert_session: Session) -> EvidenceStore:
    return tokencert_session.store


@pytest.fixture
def requirement(request: pytest.FixtureRequest, tokencert_session: Session) -> Requirement:
    ids = requirement_ids(request.node)
    if not ids:
        raise pytest.UsageError(f"{request.node.nodeid} uses `requirement` but has no "
                                "@pytest.mark.requirement(...)")
    return tokencert_session.catalog.get(ids[0])


@pytest.fixture
def thresholds(requirement: Requirement) -> Mapping[Level, tuple[Condition, ...]]:
    return requirement.thresholds


@pytest.fixture
def record(request: pytest.FixtureRequest, tokencert_session: Session) -> Recorder:
    ids = requirement_ids(request.node)
    if not ids:
        raise pytest.UsageError(f"{request.node.nodeid} uses `record` but has no "
                                "@pytest.mark.requirement(...)")
    return Recorder(tokencert_session, request.node.nodeid, ids)
