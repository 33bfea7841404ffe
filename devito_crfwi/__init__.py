"""devito-crfwi: continuous-representation full-waveform inversion on Devito.

The public API is SI (m, s, Hz, m/s); models are ``(x, z)`` with depth along z and shot
gathers ``(shot, time, receiver)``.
"""

from . import metrics, representations
from .bridge import WaveOperator
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
from .modelling import simulate
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
    "FourierFeatures",
    "IGHybrid",
    "LowRank",
    "MultiResGrid",
    "Pixel",
    "Representation",
    "SegyError",
    "Survey",
    "WaveOperator",
    "convert_binary",
    "list_models",
    "load_model",
    "make_representation",
    "metrics",
    "read_segy",
    "read_shots",
    "representations",
    "simulate",
    "write_segy",
    "write_shots",
]
__version__ = "0.1.0"
