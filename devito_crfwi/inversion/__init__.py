"""The inversion layer: CRFWIProblem, its settings, losses, data filters, checkpoints, checks."""

from .problem import CRFWIProblem

__all__ = ["CRFWIProblem"]
