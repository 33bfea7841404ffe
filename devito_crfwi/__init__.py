"""devito-crfwi: continuous-representation full-waveform inversion on Devito.

The public API is SI (m, s, Hz, m/s); models are ``(x, z)`` with depth along z and shot
gathers ``(shot, time, receiver)``.
"""

from . import metrics, ntk, plot, representations
from .bridge import WaveOperator
from .bridge.modelling import simulate
from .initial_models import constant, linear_gradient, smooth, water_mask
from .inversion import CRFWIProblem
from .io import (
    SegyError,
    convert_binary,
    list_models,
    load_model,
    read_segy,
    read_shots,
    write_segy,
    write_shots,
)
from .physics import Survey
from .representations import (
    SIREN,
    FourierFeatures,
    IGHybrid,
    LowRank,
    MultiResGrid,
    Pixel,
    Representation,
    make_representation,
)

__all__ = [
    "SIREN",
    "CRFWIProblem",
    "FourierFeatures",
    "IGHybrid",
    "LowRank",
    "MultiResGrid",
    "Pixel",
    "Representation",
    "SegyError",
    "Survey",
    "WaveOperator",
    "constant",
    "convert_binary",
    "linear_gradient",
    "list_models",
    "load_model",
    "make_representation",
    "metrics",
    "ntk",
    "plot",
    "read_segy",
    "read_shots",
    "representations",
    "simulate",
    "smooth",
    "water_mask",
    "write_segy",
    "write_shots",
]
__version__ = "0.1.0"
