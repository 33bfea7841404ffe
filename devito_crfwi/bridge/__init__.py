"""PyTorch bridge to the Devito engine (autograd backward = adjoint, jvp = Born).

:func:`~devito_crfwi.bridge.modelling.simulate` and the executors need no torch; the autograd
functions and :class:`WaveOperator` import it on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"WaveFunction": ".autograd", "WaveOperator": ".wave_operator"}

__all__ = ["WaveFunction", "WaveOperator"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
