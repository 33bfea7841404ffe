"""Wave kernel ``J Jᵀ`` and wave-based NTK ``(J G)(J G)ᵀ``: matrix-free spectra and tracking.

See :mod:`devito_crfwi.ntk.kernels` for which space each kernel is solved in.
"""

from .eigen import EigenResult, arpack, lanczos, subspace_iteration
from .jacobians import ModelJacobian, ParameterJacobian
from .kernels import KernelOperator, TangentKernel
from .spectrum import (
    ENCODING_PARAMETERS,
    compare_spectra,
    mean_log10_decay,
    plot_spectra,
    spectrum,
)
from .tracker import NTKTracker

__all__ = [
    "ENCODING_PARAMETERS",
    "EigenResult",
    "KernelOperator",
    "ModelJacobian",
    "NTKTracker",
    "ParameterJacobian",
    "TangentKernel",
    "arpack",
    "compare_spectra",
    "lanczos",
    "mean_log10_decay",
    "plot_spectra",
    "spectrum",
    "subspace_iteration",
]
