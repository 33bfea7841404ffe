"""The representations compared in the CR-FWI paper (arXiv 2603.22362): the pixel grid of
conventional FWI and the coordinate networks of IFWI, Fourier features, MPE, IG-FWI and LR-FWI.

All share :class:`~devito_crfwi.representations.base.Representation`: keyword arguments not
listed below (``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask``) go to it. Networks end in
a linear head scaled by ``out_scale`` (see :func:`~devito_crfwi.representations.layers.mlp`), so
at initialisation ``|p| = O(out_scale)`` and ``|v - v0| <~ out_scale * (vmax - vmin) / 4``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from .base import ArrayLike, Representation, sample_grid
from .grid import MultiResGridEncoding
from .layers import Activation, GaussianFourierEncoding, mlp


class Pixel(Representation):
    """Conventional FWI: one free perturbation per grid node.

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.

    Attributes
    ----------
    delta : nn.Parameter, the model's shape, logit units
        Perturbation, zero at initialisation (so ``forward()`` starts at ``v0`` exactly up to
        rounding). Off the grid, :meth:`perturbation` interpolates it (tri)linearly.
    """

    name = "pixel"
    paper_method = "FWI (ADFWI)"
    # dv ~ lr (vmax - vmin) / 4 per node through the logit map: ~7 m/s per step for lr = 1e-2
    # and a 3000 m/s range, the size of a conventional FWI update.
    default_learning_rate = 1e-2
    # Additive: the perturbation is the grid itself in m/s; Adam moves it ~5 m/s per step.
    additive_learning_rate = 5.0
    default_scale = 1.0

    def __init__(self, initial: ArrayLike, **kwargs: Any) -> None:
        super().__init__(initial, **kwargs)
        self.delta = nn.Parameter(torch.zeros(self.shape, dtype=self.initial.dtype))

    def perturbation(self, coords: Tensor) -> Tensor:
        return sample_grid(self.delta, coords)  # (...)

    def grid_perturbation(self) -> Tensor:
        return self.delta  # (nx, [ny,] nz)


class SIREN(Representation):
    """Implicit neural representation with sine activations (IFWI).

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    hidden_features : int
        Width of the sine layers.
    hidden_layers : int
        Number of sine layers.
    omega0 : float
        SIREN frequency factor.
    out_scale : float
        Scale of the linear head's initial weights (initial ``|p| = O(out_scale)``).
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.
    """

    name = "inr"
    paper_method = "IFWI"
    # omega0 = 30 amplifies every weight change; SIREN's authors train with 1e-4.
    default_learning_rate = 1e-4
    paper_parameters = 50_050  # "50.05 K" = [2, 128, 128, 128, 128, 1]: 50,049

    def __init__(
        self,
        initial: ArrayLike,
        *,
        hidden_features: int = 128,
        hidden_layers: int = 4,
        omega0: float = 30.0,
        out_scale: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(initial, **kwargs)
        self.net = mlp(
            self.ndim,
            hidden_features=hidden_features,
            hidden_layers=hidden_layers,
            activation="sine",
            omega0=omega0,
            out_scale=out_scale,
            generator=self._generator(),
            dtype=self.initial.dtype,
        )

    def perturbation(self, coords: Tensor) -> Tensor:
        return self.net(coords).squeeze(-1)  # (...)


class FourierFeatures(Representation):
    """MLP on Gaussian random Fourier features of the coordinates.

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    n_features : int
        Number of random frequencies (the MLP reads ``2 * n_features`` inputs).
    scale : float
        Standard deviation of the frequencies, cycles per unit of normalised coordinate
        (the model spans 2 units along each axis).
    hidden_features, hidden_layers : int
        Size of the MLP.
    activation : {"relu", "gelu"}
        MLP activation.
    out_scale : float
        Scale of the linear head's initial weights.
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.
    """

    name = "fourier"
    default_learning_rate = 1e-3  # a ReLU MLP on an encoding: the usual rate

    def __init__(
        self,
        initial: ArrayLike,
        *,
        n_features: int = 256,
        scale: float = 10.0,
        hidden_features: int = 256,
        hidden_layers: int = 3,
        activation: Activation = "relu",
        out_scale: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(initial, **kwargs)
        if activation == "sine":
            raise ValueError("activation must be 'relu' or 'gelu' for FourierFeatures, got 'sine'")
        generator, dtype = self._generator(), self.initial.dtype
        self.encoding = GaussianFourierEncoding(
            self.ndim, n_features, scale, generator=generator, dtype=dtype
        )
        self.net = mlp(
            self.encoding.output_dim,
            hidden_features=hidden_features,
            hidden_layers=hidden_layers,
            activation=activation,
            out_scale=out_scale,
            generator=generator,
            dtype=dtype,
        )

    def perturbation(self, coords: Tensor) -> Tensor:
        return self.net(self.encoding(coords)).squeeze(-1)  # (...)


# The paper's MPE grid (16 levels, base 50, growth 1.05) with a 2**8-row hashed table of 2
# features per level: 8,192 table entries, the size that matches its 14.26 K parameter count
# with the 2 x 64 decoder (14,529). It does not state table size nor features per level.
PAPER_GRID = {"n_levels": 16, "base_resolution": 50, "growth": 1.05, "n_features": 2,
              "table_size": 2**8}


def _grid_encoding(
    generator: torch.Generator, dtype: torch.dtype, grid: dict[str, Any] | None, ndim: int
) -> MultiResGridEncoding:
    """A :class:`MultiResGridEncoding` in ``ndim`` dimensions with the paper's defaults,
    overridden by ``grid``."""
    return MultiResGridEncoding(**(grid or {}), generator=generator, dtype=dtype, ndim=ndim)


class MultiResGrid(Representation):
    """Multi-resolution feature grids decoded by a small ReLU MLP (MPE).

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    grid : dict, optional
        Keyword arguments of :class:`MultiResGridEncoding` (``n_levels=16``,
        ``base_resolution=50``, ``growth=1.05``, ``n_features=2``, ``table_size=2**16``).
    hidden_features, hidden_layers : int
        Size of the decoding MLP.
    out_scale : float
        Scale of the linear head's initial weights.
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.
    """

    name = "grid"
    paper_method = "MPE-FWI"
    # Tables start at U(±1e-4) and each entry only moves the nodes around it (instant-NGP's rate).
    default_learning_rate = 1e-2
    encoding_parameters = ("encoding",)
    paper_parameters = 14_260  # "14.26 K"; table size and features per level not stated

    def __init__(
        self,
        initial: ArrayLike,
        *,
        grid: dict[str, Any] | None = None,
        hidden_features: int = 64,
        hidden_layers: int = 2,
        out_scale: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(initial, **kwargs)
        generator, dtype = self._generator(), self.initial.dtype
        self.encoding = _grid_encoding(generator, dtype, grid, self.ndim)
        self.net = mlp(
            self.encoding.output_dim,
            hidden_features=hidden_features,
            hidden_layers=hidden_layers,
            activation="relu",
            out_scale=out_scale,
            generator=generator,
            dtype=dtype,
        )

    def perturbation(self, coords: Tensor) -> Tensor:
        return self.net(self.encoding(coords)).squeeze(-1)  # (...)

    @classmethod
    def paper_options(cls, shape: tuple[int, int]) -> dict[str, Any]:
        return {"grid": dict(PAPER_GRID)}


class IGHybrid(Representation):
    """IG-FWI: fused INR and multi-resolution grid features,
    ``p(x) = MLP(sqrt(alpha) h(x) ⊕ sqrt(1 - alpha) I(x))``.

    ``h`` is a :class:`MultiResGridEncoding`, ``I`` the last hidden features of a small sine
    network; ``alpha`` trades the grid's fast high-frequency convergence against the INR's
    smooth, robust updates.

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    alpha : float
        Weight of the grid branch, in [0, 1].
    grid : dict, optional
        Keyword arguments of :class:`MultiResGridEncoding` (paper defaults otherwise).
    sine_features, sine_layers : int
        Size of the sine branch.
    omega0 : float
        SIREN frequency factor of the sine branch.
    hidden_features, hidden_layers : int
        Size of the fusing ReLU MLP.
    out_scale : float
        Scale of the linear head's initial weights.
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.
    """

    name = "ig"
    paper_method = "IG-FWI"
    default_learning_rate = 1e-3  # a ReLU MLP on the fused features
    encoding_parameters = ("encoding", "sine")
    paper_parameters = 39_340  # "39.34 K"

    def __init__(
        self,
        initial: ArrayLike,
        *,
        alpha: float = 0.5,
        grid: dict[str, Any] | None = None,
        sine_features: int = 128,
        sine_layers: int = 2,
        omega0: float = 30.0,
        hidden_features: int = 64,
        hidden_layers: int = 2,
        out_scale: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(initial, **kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha = float(alpha)
        generator, dtype = self._generator(), self.initial.dtype
        self.encoding = _grid_encoding(generator, dtype, grid, self.ndim)
        self.sine = mlp(
            self.ndim,
            hidden_features=sine_features,
            hidden_layers=sine_layers,
            n_out=None,
            activation="sine",
            omega0=omega0,
            generator=generator,
            dtype=dtype,
        )
        self.net = mlp(
            self.encoding.output_dim + self.sine.output_dim,
            hidden_features=hidden_features,
            hidden_layers=hidden_layers,
            activation="relu",
            out_scale=out_scale,
            generator=generator,
            dtype=dtype,
        )

    def perturbation(self, coords: Tensor) -> Tensor:
        features = torch.cat(
            (
                math.sqrt(self.alpha) * self.encoding(coords),  # (..., L F)
                math.sqrt(1.0 - self.alpha) * self.sine(coords),
            ),  # (..., sine_features)
            dim=-1,
        )
        return self.net(features).squeeze(-1)  # (...)

    @classmethod
    def paper_options(cls, shape: tuple[int, int]) -> dict[str, Any]:
        return {"grid": dict(PAPER_GRID)}

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha:g}"


class LowRank(Representation):
    """LR-FWI: separable low-rank perturbation from one 1-D SIREN per axis.

    In 2-D ``p(x, z) = f1(x)^T C f2(z)`` with a learnable ``rank x rank`` core ``C`` (the
    paper's form). In 3-D it is the CP (canonical polyadic) factorisation
    ``p(x, y, z) = sum_r C_r f1_r(x) f2_r(y) f3_r(z)`` with ``rank`` weights ``C`` (a
    diagonal core: ``rank`` parameters where a Tucker core would need ``rank**3``). Each
    ``f`` is a 1-D SIREN with ``rank`` outputs. On the grid the perturbation is evaluated
    from nx + [ny +] nz network calls instead of one per node.

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model.
    rank : int
        Rank ``r``.
    hidden_features, hidden_layers : int
        Size of each 1-D SIREN.
    omega0 : float
        SIREN frequency factor.
    out_scale : float
        ``C`` starts from U(-out_scale/r, out_scale/r); the SIREN heads use a standard init,
        so that gradients reach every factor from the first step.
    **kwargs
        ``vmin``, ``vmax``, ``seed``, ``dtype``, ``water_mask`` of :class:`Representation`.

    Attributes
    ----------
    core : nn.Parameter, shape (rank, rank) in 2-D, (rank,) in 3-D
        ``C``.
    """

    name = "lowrank"
    paper_method = "LR-FWI"
    default_learning_rate = 1e-4  # SIREN factors; diverged at 1e-3 in our check
    paper_parameters = 77_910  # "77.91 K"

    def __init__(
        self,
        initial: ArrayLike,
        *,
        rank: int = 32,
        hidden_features: int = 128,
        hidden_layers: int = 3,
        omega0: float = 30.0,
        out_scale: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(initial, **kwargs)
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        generator, dtype = self._generator(), self.initial.dtype
        for axis in range(self.ndim):  # f1 (x), [f2 (y),] f2 or f3 (z)
            self.add_module(f"f{axis + 1}", mlp(
                1,
                hidden_features=hidden_features,
                hidden_layers=hidden_layers,
                n_out=rank,
                activation="sine",
                omega0=omega0,
                out_scale=1.0,
                generator=generator,
                dtype=dtype,
            ))
        core = torch.empty((rank, rank) if self.ndim == 2 else (rank,), dtype=dtype)
        bound = out_scale / rank
        self.core = nn.Parameter(core.uniform_(-bound, bound, generator=generator))

    def _factors(self) -> list[nn.Module]:
        return [getattr(self, f"f{axis + 1}") for axis in range(self.ndim)]

    def _combine(self, a: Tensor, *others: Tensor) -> Tensor:
        """The core contracted with one (..., r) factor per axis (2-D: ``a C b``)."""
        if self.ndim == 2:
            return torch.einsum("...i,ij,...j->...", a, self.core, *others)
        return torch.einsum("...r,r,...r,...r->...", a, self.core, *others)

    def perturbation(self, coords: Tensor) -> Tensor:
        factors = [f(coords[..., d : d + 1]) for d, f in enumerate(self._factors())]  # (..., r)
        return self._combine(*factors)  # (...)

    @classmethod
    def paper_options(cls, shape: tuple[int, ...]) -> dict[str, Any]:
        return {"rank": max(1, min(shape) // 2)}  # "rank = half the model dimension"

    def grid_perturbation(self) -> Tensor:
        grid = self.coords.reshape(*self.shape, self.ndim)  # (nx, [ny,] nz, ndim)
        # the nodes along each axis: (n, 1) each
        axes = [grid[..., d].movedim(d, 0).reshape(n, -1)[:, :1]
                for d, n in enumerate(self.shape)]
        factors = [f(axis) for f, axis in zip(self._factors(), axes, strict=True)]  # (n, r)
        if self.ndim == 2:
            a, b = factors
            return a @ self.core @ b.T  # (nx, nz)
        a, b, c = factors
        return torch.einsum("xr,r,yr,zr->xyz", a, self.core, b, c)  # (nx, ny, nz)
