"""The reference token service: a gateway (auth, limits, metering, TLS) in front of an
engine (``sim``, ``llama.cpp`` or ``upstream:URL``), with defect injection.

It stands beside the instrument: it is a candidate, never part of the measurement.

    from conformance.reference import ReferenceService
    with ReferenceService.start(tls=True) as svc:
        ...  # svc.base_url, svc.declaration_path, svc.api_keys, svc.env, svc.ca_bundle
"""

from conformance.reference.config import GatewayConfig, ReferenceConfig, SimConfig
from conformance.reference.defects import REGISTRY as DEFECTS
from conformance.reference.defects import Defect
from conformance.reference.service import ReferenceService

__all__ = ["DEFECTS", "Defect", "GatewayConfig", "ReferenceConfig", "ReferenceService",
           "SimConfig"]
