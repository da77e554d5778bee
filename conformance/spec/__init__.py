"""What is required: catalog YAML → JSON Schema check → frozen models; digests."""

from conformance.spec.loader import load_catalog, load_edition, load_profile
from conformance.spec.models import (
    Applicability,
    Catalog,
    Condition,
    EvidenceMin,
    Level,
    Metric,
    PhaseSettings,
    Profile,
    Requirement,
    Workload,
)

__all__ = [
    "Applicability",
    "Catalog",
    "Condition",
    "EvidenceMin",
    "Level",
    "Metric",
    "PhaseSettings",
    "Profile",
    "Requirement",
    "Workload",
    "load_catalog",
    "load_edition",
    "load_profile",
]
