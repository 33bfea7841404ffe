"""Coordinate -> velocity representations for CR-FWI (torch only).

Each representation is an :class:`torch.nn.Module` built on an initial model; ``forward()``
returns the velocity grid, shape (nx, nz) in m/s, as the initial model plus a perturbation,
bounded to ``[vmin, vmax]`` (see :func:`bounded_velocity`) or added at a scale (the paper's
``output="additive"``).
"""

from .base import (
    Representation,
    bounded_velocity,
    default_bounds,
    grid_coordinates,
    sample_grid,
)
from .grid import MultiResGridEncoding, hash_index
from .layers import GaussianFourierEncoding, SineLayer, mlp
from .networks import SIREN, FourierFeatures, IGHybrid, LowRank, MultiResGrid, Pixel
from .registry import (
    DEFAULT_LEARNING_RATES,
    REGISTRY,
    REPRESENTATIONS,
    fit,
    make_representation,
    paper_parameter_counts,
)

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "REGISTRY",
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
    "default_bounds",
    "fit",
    "grid_coordinates",
    "hash_index",
    "make_representation",
    "mlp",
    "paper_parameter_counts",
    "sample_grid",
]
