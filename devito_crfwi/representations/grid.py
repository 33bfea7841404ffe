"""Multi-resolution feature grids with bilinear (2-D) or trilinear (3-D) interpolation, dense
or spatially hashed (Müller et al. 2022, "Instant neural graphics primitives with a
multiresolution hash encoding").
"""

from __future__ import annotations

import itertools
import math
from functools import reduce

import torch
from torch import Tensor, nn

# Müller et al. 2022, eq. (4): h(x) = (XOR_i x_i * pi_i) mod T, with pi_1 = 1,
# pi_2 = 2654435761 and pi_3 = 805459861.
HASH_PRIMES = (1, 2654435761, 805459861)

# Müller et al. 2022, sec. 4: tables start from U(-1e-4, 1e-4).
TABLE_INIT = 1e-4


def hash_index(vertex: Tensor, table_size: int) -> Tensor:
    """Spatial hash of integer 2-D or 3-D vertices.

    Parameters
    ----------
    vertex : Tensor of int64, shape (..., ndim), ndim 2 or 3
        Integer vertex coordinates ``(i, j[, k])``, non-negative.
    table_size : int
        Number of table rows ``T``.

    Returns
    -------
    Tensor of int64, shape (...)
        ``((i * 1) XOR (j * 2654435761) [XOR (k * 805459861)]) mod T``. Products are exact in
        int64, so for ``T`` a power of two this equals instant-NGP's uint32 arithmetic (same
        low bits).
    """
    terms = (vertex[..., d] * HASH_PRIMES[d] for d in range(vertex.shape[-1]))
    return reduce(torch.bitwise_xor, terms) % table_size


class GridLevel(nn.Module):
    """One level: a grid of ``resolution`` cells along each axis, of learnable features.

    Parameters
    ----------
    resolution : int
        Cells per axis (the same along every axis); the grid has ``(resolution + 1)**ndim``
        vertices.
    n_features : int
        Features per vertex.
    table_size : int
        Maximum table rows; with more vertices the level is hashed into ``table_size`` rows,
        otherwise it is stored densely (one row per vertex, no collisions).
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.
    ndim : int
        2 (bilinear, 4 corners) or 3 (trilinear, 8 corners).

    Attributes
    ----------
    table : nn.Parameter, shape (rows, n_features)
        Feature table.
    hashed : bool
        Whether vertices are hashed.
    """

    def __init__(
        self,
        resolution: int,
        n_features: int,
        table_size: int,
        *,
        generator: torch.Generator,
        dtype: torch.dtype,
        ndim: int = 2,
    ) -> None:
        super().__init__()
        self.resolution = int(resolution)
        n_vertices = (self.resolution + 1) ** ndim
        self.hashed = n_vertices > table_size
        rows = table_size if self.hashed else n_vertices
        table = torch.empty(rows, n_features, dtype=dtype)
        self.table = nn.Parameter(table.uniform_(-TABLE_INIT, TABLE_INIT, generator=generator))
        corners = torch.tensor(list(itertools.product((0, 1), repeat=ndim)))  # (2**ndim, ndim)
        self.register_buffer("corners", corners, persistent=False)

    def forward(self, unit: Tensor) -> Tensor:
        """Bi- or trilinearly interpolated features at ``unit`` (..., ndim) in [0, 1];
        returns (..., F)."""
        position = unit * self.resolution  # (..., ndim), in cells
        cell = position.detach().floor().clamp(0, self.resolution - 1)  # (..., ndim)
        frac = (position - cell).unsqueeze(-2)  # (..., 1, ndim), in [0, 1]
        vertex = cell.long().unsqueeze(-2) + self.corners  # (..., 2**ndim, ndim)
        weight = torch.where(self.corners.bool(), frac, 1.0 - frac).prod(-1)  # (..., 2**ndim)
        if self.hashed:
            index = hash_index(vertex, self.table.shape[0])  # (..., 2**ndim)
        else:  # row-major over the (resolution + 1)**ndim vertices
            index = reduce(lambda row, i: row * (self.resolution + 1) + i, vertex.unbind(-1))
        features = self.table[index]  # (..., 2**ndim, F)
        return (weight.unsqueeze(-1) * features).sum(-2)  # (..., F)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, rows={self.table.shape[0]}, hashed={self.hashed}"


class MultiResGridEncoding(nn.Module):
    """Concatenated features of ``n_levels`` grids of growing resolution.

    Level ``l`` has ``floor(base_resolution * growth**l)`` cells per axis over [-1, 1]^ndim.

    Parameters
    ----------
    n_levels : int
        Number of levels.
    base_resolution : int
        Cells per axis of the coarsest level.
    growth : float
        Resolution ratio between consecutive levels (>= 1).
    n_features : int
        Features per level ``F``.
    table_size : int
        Rows above which a level is hashed (a power of two, e.g. ``2**16``).
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.
    ndim : int
        Coordinate dimension, 2 or 3.

    Attributes
    ----------
    levels : nn.ModuleList of GridLevel
    output_dim : int
        ``n_levels * n_features``.
    """

    def __init__(
        self,
        n_levels: int = 16,
        base_resolution: int = 50,
        growth: float = 1.05,
        n_features: int = 2,
        table_size: int = 2**16,
        *,
        generator: torch.Generator,
        dtype: torch.dtype,
        ndim: int = 2,
    ) -> None:
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, got {ndim}")
        if n_levels < 1 or base_resolution < 1 or n_features < 1 or not growth >= 1.0:
            raise ValueError(
                "n_levels, base_resolution and n_features must be >= 1 and growth >= 1, got "
                f"{n_levels}, {base_resolution}, {n_features} and {growth}"
            )
        if table_size < 1 or table_size & (table_size - 1):
            raise ValueError(f"table_size must be a power of two, got {table_size}")
        self.levels = nn.ModuleList(
            GridLevel(
                math.floor(base_resolution * growth**level),
                n_features,
                table_size,
                generator=generator,
                dtype=dtype,
                ndim=ndim,
            )
            for level in range(n_levels)
        )
        self.output_dim = n_levels * n_features

    def forward(self, coords: Tensor) -> Tensor:
        unit = ((coords + 1.0) / 2.0).clamp(0.0, 1.0)  # (..., ndim), in [0, 1]
        return torch.cat([level(unit) for level in self.levels], dim=-1)  # (..., L F)
