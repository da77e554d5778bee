"""The candidate's claims (``candidate.yaml``) → frozen models."""

from conformance.declaration.loader import load_declaration
from conformance.declaration.models import (
    ChatTemplateRef,
    Declaration,
    Endpoint,
    Limits,
    ModelDecl,
    Performance,
    Pricing,
    TokenizerRef,
)

__all__ = [
    "ChatTemplateRef",
    "Declaration",
    "Endpoint",
    "Limits",
    "ModelDecl",
    "Performance",
    "Pricing",
    "TokenizerRef",
    "load_declaration",
]
