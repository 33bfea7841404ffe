"""The inversion layer: CRFWIProblem, losses, data filters, checkpoints, input checks."""

from .problem import CRFWIProblem

__all__ = ["CRFWIProblem"]
