"""Coordinate -> velocity representations for CR-FWI (torch only).

Each representation is an :class:`torch.nn.Module` built on an initial model; ``forward()``
returns the velocity grid, shape (nx, nz) in m/s, as the initial model plus a perturbation
bounded to ``[vmin, vmax]`` (see :func:`bounded_velocity`).
"""

from .base import Representation, bounded_velocity, grid_coordinates, sample_grid
from .grid import MultiResGridEncoding, hash_index
from .layers import GaussianFourierEncoding, SineLayer, mlp
from .networks import SIREN, FourierFeatures, IGHybrid, LowRank, MultiResGrid, Pixel
from .registry import DEFAULT_LEARNING_RATES, REPRESENTATIONS, fit, make_representation

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "REPRESENTATIONS",
    "SIREN",
    "FourierFeatures",
    "GaussianFourierEncoding",
    "IGHybrid",
    "LowRank",
    "MultiResGrid",
    "MultiResGridEncoding",
    "Pixel",
    "Representation",
    "SineLayer",
    "bounded_velocity",
    "fit",
    "grid_coordinates",
    "hash_index",
    "make_representation",
    "mlp",
    "sample_grid",
]
