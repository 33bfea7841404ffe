"""PyTorch bridge to the Devito engine (autograd backward = adjoint, jvp = Born)."""

from .autograd import WaveFunction
from .wave_operator import WaveOperator

__all__ = ["WaveFunction", "WaveOperator"]
