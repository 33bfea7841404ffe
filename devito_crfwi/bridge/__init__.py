"""PyTorch bridge to the Devito engine (autograd backward = adjoint, jvp = Born)."""

from .function import WaveFunction
from .module import WaveOperator

__all__ = ["WaveFunction", "WaveOperator"]
