"""Multi-resolution feature grids with bilinear interpolation, dense or spatially hashed
(Müller et al. 2022, "Instant neural graphics primitives with a multiresolution hash encoding").
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# Müller et al. 2022, eq. (4): h(x) = (XOR_i x_i * pi_i) mod T, with pi_1 = 1, pi_2 = 2654435761.
HASH_PRIMES = (1, 2654435761)

# Müller et al. 2022, sec. 4: tables start from U(-1e-4, 1e-4).
TABLE_INIT = 1e-4


def hash_index(vertex: Tensor, table_size: int) -> Tensor:
    """Spatial hash of integer 2-D vertices.

    Parameters
    ----------
    vertex : Tensor of int64, shape (..., 2)
        Integer vertex coordinates ``(i, j)``, non-negative.
    table_size : int
        Number of table rows ``T``.

    Returns
    -------
    Tensor of int64, shape (...)
        ``((i * 1) XOR (j * 2654435761)) mod T``. Products are exact in int64, so for ``T`` a
        power of two this equals instant-NGP's uint32 arithmetic (same low bits).
    """
    return torch.bitwise_xor(vertex[..., 0] * HASH_PRIMES[0], vertex[..., 1] * HASH_PRIMES[1]) % (
        table_size
    )


class GridLevel(nn.Module):
    """One level: a ``resolution x resolution``-cell grid of learnable features.

    Parameters
    ----------
    resolution : int
        Cells per axis (the same along x and z); the grid has ``(resolution + 1)**2`` vertices.
    n_features : int
        Features per vertex.
    table_size : int
        Maximum table rows; with more vertices the level is hashed into ``table_size`` rows,
        otherwise it is stored densely (one row per vertex, no collisions).
    generator : torch.Generator
        Source of the random numbers.
    dtype : torch.dtype
        Parameter dtype.

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
    ) -> None:
        super().__init__()
        self.resolution = int(resolution)
        n_vertices = (self.resolution + 1) ** 2
        self.hashed = n_vertices > table_size
        rows = table_size if self.hashed else n_vertices
        table = torch.empty(rows, n_features, dtype=dtype)
        self.table = nn.Parameter(table.uniform_(-TABLE_INIT, TABLE_INIT, generator=generator))
        corners = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])  # (4, 2)
        self.register_buffer("corners", corners, persistent=False)

    def forward(self, unit: Tensor) -> Tensor:
        """Bilinearly interpolated features at ``unit`` (..., 2) in [0, 1]; returns (..., F)."""
        position = unit * self.resolution  # (..., 2), in cells
        cell = position.detach().floor().clamp(0, self.resolution - 1)  # (..., 2)
        frac = (position - cell).unsqueeze(-2)  # (..., 1, 2), in [0, 1]
        vertex = cell.long().unsqueeze(-2) + self.corners  # (..., 4, 2)
        weight = torch.where(self.corners.bool(), frac, 1.0 - frac).prod(-1)  # (..., 4)
        if self.hashed:
            index = hash_index(vertex, self.table.shape[0])  # (..., 4)
        else:
            index = vertex[..., 0] * (self.resolution + 1) + vertex[..., 1]  # (..., 4)
        features = self.table[index]  # (..., 4, F)
        return (weight.unsqueeze(-1) * features).sum(-2)  # (..., F)

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, rows={self.table.shape[0]}, hashed={self.hashed}"


class MultiResGridEncoding(nn.Module):
    """Concatenated features of ``n_levels`` grids of growing resolution.

    Level ``l`` has ``floor(base_resolution * growth**l)`` cells per axis over [-1, 1]².

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
    ) -> None:
        super().__init__()
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
            )
            for level in range(n_levels)
        )
        self.output_dim = n_levels * n_features

    def forward(self, coords: Tensor) -> Tensor:
        unit = ((coords + 1.0) / 2.0).clamp(0.0, 1.0)  # (..., 2), in [0, 1]
        return torch.cat([level(unit) for level in self.levels], dim=-1)  # (..., L F)
