"""devito-crfwi: continuous-representation full-waveform inversion on Devito.

The public API is SI (m, s, Hz, m/s); models are ``(x, z)`` with depth along z and shot
gathers ``(shot, time, receiver)``.

Importing the package costs only what is used: SEG-Y I/O, the survey, ``simulate``,
``estimate_wavelet`` and the initial-model helpers load numpy, segyio, xarray and Devito;
torch (the bridge, the representations, ``CRFWIProblem``, the NTK) and matplotlib
(``plot``) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import metrics
from .bridge.modelling import simulate
from .initial_models import constant, linear_gradient, smooth, water_mask
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
from .physics import Survey, estimate_wavelet

# Public names whose modules import torch or matplotlib: "name": "module" (relative).
_LAZY = {
    "WaveOperator": ".bridge",
    "CRFWIProblem": ".inversion",
    "Representation": ".representations",
    "Pixel": ".representations",
    "SIREN": ".representations",
    "FourierFeatures": ".representations",
    "MultiResGrid": ".representations",
    "IGHybrid": ".representations",
    "LowRank": ".representations",
    "make_representation": ".representations",
}
_LAZY_MODULES = {"ntk", "plot", "representations"}

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
    "estimate_wavelet",
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


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
