"""Wave physics on Devito: grid, survey, operators and the propagator (no torch here)."""

from . import _devito  # noqa: F401  (Devito settings before anything compiles)
from .grid import ModelGrid, default_boundary_width, validate_velocity
from .operators import operators_built
from .propagator import Propagator
from .settings import EngineSettings
from .storage import MemoryPlan
from .survey import Survey
from .wavelet import peak_frequency, ricker
from .wavelet_estimation import estimate_wavelet

__all__ = [
    "EngineSettings",
    "MemoryPlan",
    "ModelGrid",
    "Propagator",
    "Survey",
    "default_boundary_width",
    "estimate_wavelet",
    "operators_built",
    "peak_frequency",
    "ricker",
    "validate_velocity",
]
