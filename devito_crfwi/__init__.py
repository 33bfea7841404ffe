"""devito-crfwi: continuous-representation full-waveform inversion on Devito.

The public API is SI (m, s, Hz, m/s); models are ``(x, z)`` with depth along z and shot
gathers ``(shot, time, receiver)``.
"""

from .bridge import WaveOperator
from .modelling import simulate
from .physics import Survey

__all__ = ["Survey", "WaveOperator", "simulate"]
__version__ = "0.1.0"
