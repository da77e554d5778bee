"""The plan of a run: which requirements, whether each applies, and the phases to run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from conformance._core.canonical import digest


@dataclass(frozen=True)
class PlannedRequirement:
    id: str
    applicable: bool
    reason: str | None = None  # why not applicable (the catalog's reason)
    missing: tuple[str, ...] = ()  # features the declaration lacks
    phase: str | None = None


@dataclass(frozen=True)
class PhasePlan:
    """A load phase with every setting resolved against the declaration."""

    name: str
    strategy: str  # sequential | concurrent | constant | poisson | burst
    seed: int
    concurrency: int = 1
    rate_rps: float | None = None  # open-loop arrival rate, or the cap of a closed loop
    requests: int | None = None
    duration_s: float | None = None
    warmup_requests: int = 0
    max_error_rate: float | None = None
    window_s: float | None = None
    workload: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    repeats: int = 1
    observe_s: float | None = None
    timeout_s: float = 60.0
    bounded_by: tuple[str, ...] = ()  # declared limits that lowered a setting
    exempt_from_limits: bool = False  # the overload (burst) phase
    processes: int = 0  # worker processes (0: one event loop in the runner's process)


@dataclass(frozen=True)
class Plan:
    edition: str
    catalog_digest: str
    profile: str
    profile_digest: str
    declaration_digest: str
    only: str | None
    requirements: tuple[PlannedRequirement, ...]
    phases: Mapping[str, PhasePlan] = field(default_factory=dict)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.requirements)

    def get(self, rid: str) -> PlannedRequirement | None:
        for r in self.requirements:
            if r.id == rid:
                return r
        return None

    def selected(self, rid: str) -> bool:
        return self.get(rid) is not None

    def applicable(self, rid: str) -> bool:
        r = self.get(rid)
        return r is not None and r.applicable

    def phase(self, name: str) -> PhasePlan | None:
        return self.phases.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "edition": self.edition,
            "catalog_digest": self.catalog_digest,
            "profile": self.profile,
            "profile_digest": self.profile_digest,
            "declaration_digest": self.declaration_digest,
            "only": self.only,
            "requirements": [
                {**asdict(r), "missing": list(r.missing)} for r in self.requirements
            ],
            "phases": {
                k: {**asdict(p), "bounded_by": list(p.bounded_by)} for k, p in self.phases.items()
            },
        }

    @property
    def digest(self) -> str:
        return digest(self.to_json())

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Plan:
        return cls(
            edition=d["edition"],
            catalog_digest=d["catalog_digest"],
            profile=d["profile"],
            profile_digest=d["profile_digest"],
            declaration_digest=d["declaration_digest"],
            only=d.get("only"),
            requirements=tuple(
                PlannedRequirement(**{**r, "missing": tuple(r.get("missing", ()))})
                for r in d["requirements"]
            ),
            phases={
                k: PhasePlan(**{**p, "bounded_by": tuple(p.get("bounded_by", ()))})
                for k, p in d.get("phases", {}).items()
            },
        )
