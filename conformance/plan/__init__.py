"""(catalog, profile, declaration, --only) → a plan of requirements and phases; no I/O."""

from conformance.plan.build import build_plan, parse_only, phase_seed, select
from conformance.plan.model import PhasePlan, Plan, PlannedRequirement

__all__ = [
    "PhasePlan",
    "Plan",
    "PlannedRequirement",
    "build_plan",
    "parse_only",
    "phase_seed",
    "select",
]
