"""Common base of the coordinate -> velocity representations: output map, water mask, grid.

Every representation maps the normalised coordinates of the model grid to a perturbation ``p``
of an initial model ``v0``, turned into a velocity by one of two output maps:

- ``"bounded"`` (default): ``p`` lives in an unconstrained (logit) space and

  .. math::

    v = v_{min} + (v_{max} - v_{min})\\,
        \\sigma\\!\\left(\\operatorname{logit}\\frac{v_0 - v_{min}}{v_{max} - v_{min}} + p\\right),

  so ``v`` lies in ``[vmin, vmax]`` for any parameters;
- ``"additive"``: the paper's denormalisation ``v = v0 + s p`` with an explicit scale ``s``
  (m/s per unit of ``p``: 1000 for networks, which then work in km/s as IFWI's code does; 1
  for the pixel grid, whose ``p`` is then in m/s), clipped to ``[vmin, vmax]`` only so that the
  wave equation's time step stays stable (no gradient where clipped).

In both ``v = v0`` when ``p = 0``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ArrayLike = Tensor | np.ndarray

# Initial models are clipped this far inside (0, 1) before the logit, so that v0 == vmin or
# v0 == vmax stays finite; the model then starts within EPS * (vmax - vmin) of v0.
EPS = 1e-6

# vmin / vmax left as None are taken as BOUND_FACTORS[0] * min(v0) and BOUND_FACTORS[1] * max(v0)
# (the one default of the package: CRFWIProblem and the benchmark use default_bounds too).
BOUND_FACTORS = (0.8, 1.25)

OUTPUTS = ("bounded", "additive")


def default_bounds(initial: ArrayLike) -> tuple[float, float]:
    """Default ``(vmin, vmax)`` in m/s of a model: 0.8 x its minimum, 1.25 x its maximum."""
    values = np.asarray(initial.detach().cpu() if isinstance(initial, Tensor) else initial)
    return float(BOUND_FACTORS[0] * values.min()), float(BOUND_FACTORS[1] * values.max())


def bounded_velocity(initial: Tensor, perturbation: Tensor, vmin: float, vmax: float) -> Tensor:
    """Map an unconstrained perturbation of an initial model into ``[vmin, vmax]``.

    Parameters
    ----------
    initial : Tensor, shape (...), m/s
        Initial model ``v0``, inside ``[vmin, vmax]``.
    perturbation : Tensor, shape (...), dimensionless (logit units)
        Perturbation ``p``; ``p = 0`` gives back ``v0``.
    vmin, vmax : float, m/s
        Bounds of the output.

    Returns
    -------
    Tensor, shape (...), m/s
        ``vmin + (vmax - vmin) * sigmoid(logit((v0 - vmin) / (vmax - vmin)) + p)``.

    Notes
    -----
    Near ``v0`` the velocity moves by ``dv/dp = (vmax - vmin) u0 (1 - u0)`` per unit of ``p``,
    with ``u0 = (v0 - vmin) / (vmax - vmin)``: at most ``(vmax - vmin) / 4``.
    """
    span = vmax - vmin
    u0 = ((initial - vmin) / span).clamp(EPS, 1.0 - EPS)
    velocity = vmin + span * torch.sigmoid(torch.logit(u0) + perturbation)
    # The clamp only absorbs the rounding of vmin + span * 1.0; it passes gradients inside.
    return velocity.clamp(vmin, vmax)


def grid_coordinates(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised coordinates of every node of an (nx, nz) or (nx, ny, nz) grid.

    Parameters
    ----------
    shape : (int, int) or (int, int, int)
        Grid size ``(nx, nz)`` or ``(nx, ny, nz)``.
    dtype : torch.dtype
        Floating dtype of the result.

    Returns
    -------
    Tensor, shape (prod(shape), ndim), dimensionless in [-1, 1]
        In 2-D row ``i * nz + j`` holds ``(x_i, z_j)`` (3-D: row ``(i * ny + j) * nz + k``
        holds ``(x_i, y_j, z_k)``) with each axis ``linspace(-1, 1, n)``, so
        ``values.reshape(shape)`` is in grid order.
    """
    axes = [torch.linspace(-1.0, 1.0, n, dtype=dtype) for n in shape]  # (n,) each
    mesh = torch.meshgrid(*axes, indexing="ij")  # shape each
    return torch.stack(mesh, dim=-1).reshape(-1, len(shape))


def sample_grid(values: Tensor, coords: Tensor, mode: str = "bilinear") -> Tensor:
    """Interpolate gridded values at normalised coordinates.

    Parameters
    ----------
    values : Tensor, shape (nx, nz) or (nx, ny, nz)
        Values on the nodes of :func:`grid_coordinates`.
    coords : Tensor, shape (..., ndim), dimensionless
        ``(x, z)`` or ``(x, y, z)`` in [-1, 1]; points outside take the nearest edge's value.
    mode : {"bilinear", "nearest"}
        Interpolation, as in :func:`torch.nn.functional.grid_sample` ("bilinear" is
        trilinear on a 3-D grid).

    Returns
    -------
    Tensor, shape (...)
        Interpolated values, differentiable with respect to ``values``.
    """
    batch, ndim = coords.shape[:-1], values.ndim
    # grid_sample reads (W, H) = (z, x) coordinates of an (N, C, H, W) = (1, 1, nx, nz) image,
    # and (W, H, D) = (z, y, x) of an (N, C, D, H, W) = (1, 1, nx, ny, nz) volume.
    grid = coords.flip(-1).reshape(1, *[1] * (ndim - 1), -1, ndim).to(values.dtype)
    out = F.grid_sample(
        values[None, None], grid, mode=mode, padding_mode="border", align_corners=True
    )  # (1, 1, [1,] 1, P)
    return out.reshape(batch)


def _hold_water(velocity: Tensor, initial: Tensor, mask: Tensor | None) -> Tensor:
    """``initial`` where ``mask`` is True, else ``velocity`` (all of one shape)."""
    return velocity if mask is None else torch.where(mask, initial, velocity)


def _as_tensor(array: ArrayLike, dtype: torch.dtype) -> Tensor:
    """A detached copy of an array or tensor (never a view of the caller's data)."""
    if isinstance(array, Tensor):
        return array.detach().to(dtype=dtype, copy=True)
    return torch.tensor(np.asarray(array), dtype=dtype)


class Representation(nn.Module, ABC):
    """Velocity model = initial model + perturbation from a coordinate network.

    Subclasses implement :meth:`perturbation` and set the class facts below; this class owns
    the grid, the bounds, the water mask and the output map (module docstring).

    Parameters
    ----------
    initial : Tensor or numpy.ndarray, shape (nx, nz) or (nx, ny, nz), m/s
        Initial model ``v0`` (dims x, [y,] z; depth increases with z). Copied, never
        modified. The coordinate networks read ``ndim`` = 2 or 3 inputs accordingly.
    vmin, vmax : float or None, m/s
        Bounds of the output velocity; ``None`` takes :func:`default_bounds` (0.8 min(v0),
        1.25 max(v0)). ``v0`` must lie inside them.
    output : {"bounded", "additive"}
        Output map: the logit map inside the bounds, or the paper's ``v0 + scale * p``.
    scale : float, m/s, optional
        Scale of the additive map; default :attr:`default_scale`. Only with ``"additive"``.
    seed : int
        Seed of the local :class:`torch.Generator` used for every random initialisation
        (the global RNG is neither used nor advanced).
    dtype : torch.dtype
        Floating dtype of parameters, buffers and output.
    water_mask : Tensor or numpy.ndarray of bool, the model's shape, optional
        True where the velocity is held at ``v0`` exactly (e.g. the water layer).

    Attributes
    ----------
    shape : (int, int) or (int, int, int)
        Grid size ``(nx, nz)`` or ``(nx, ny, nz)``.
    ndim : int
        2 or 3: the number of coordinates the networks read.
    vmin, vmax : float, m/s
        Bounds in use.
    seed : int
        The seed given.
    initial : Tensor, the model's shape, m/s
        Buffer holding ``v0``.
    coords : Tensor, shape (prod(shape), ndim), dimensionless
        Buffer of the normalised grid coordinates, see :func:`grid_coordinates`.
    water_mask : Tensor of bool, the model's shape, or None
        Buffer of the mask.
    """

    name: ClassVar[str] = ""
    """Key of this class in :data:`~devito_crfwi.representations.REGISTRY`."""
    paper_method: ClassVar[str] = ""
    """The method's name in the CR-FWI paper (arXiv 2603.22362)."""
    default_learning_rate: ClassVar[float]
    """Adam rate of the default settings with the bounded map (see the subclass's comment)."""
    additive_learning_rate: ClassVar[float] = 1e-4
    """Adam rate with the additive map: the paper's (1e-4 for every network, 5 for pixels)."""
    default_scale: ClassVar[float] = 1000.0
    """m/s per unit of network output in the additive map (networks work in km/s)."""
    encoding_parameters: ClassVar[tuple[str, ...] | None] = None
    """Parameter prefixes of the coordinate encoding alone (without the shared decoder), the
    ``G`` of the encoding's own NTK; None: all parameters."""
    paper_parameters: ClassVar[int | None] = None
    """The parameter count of the paper's Table 1 for this method."""

    def __init__(
        self,
        initial: ArrayLike,
        *,
        vmin: float | None = None,
        vmax: float | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        water_mask: ArrayLike | None = None,
        output: str = "bounded",
        scale: float | None = None,
    ) -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if scale is not None and output != "additive":
            raise ValueError(f"scale applies to output='additive' only, got output={output!r}")
        scale = self.default_scale if scale is None else scale
        if isinstance(scale, bool) or not (isinstance(scale, int | float) and scale > 0):
            raise ValueError(f"scale must be a positive number of m/s, got {scale!r}")
        self.output, self.scale = output, float(scale)
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point torch dtype, got {dtype}")
        v0 = _as_tensor(initial, dtype)
        if v0.ndim not in (2, 3) or v0.numel() == 0:
            raise ValueError("initial must be a non-empty 2-D (nx, nz) or 3-D (nx, ny, nz) "
                             f"model, got shape {tuple(v0.shape)}")
        if not torch.isfinite(v0).all():
            raise ValueError("initial must be finite everywhere, got NaN or inf values")
        lo, hi = float(v0.min()), float(v0.max())
        low, high = default_bounds(v0)
        self.vmin = float(low if vmin is None else vmin)
        self.vmax = float(high if vmax is None else vmax)
        if not self.vmin < self.vmax:
            raise ValueError(f"vmin must be below vmax, got vmin={self.vmin}, vmax={self.vmax}")
        if lo < self.vmin or hi > self.vmax:
            raise ValueError(
                f"initial must lie in [vmin, vmax] = [{self.vmin}, {self.vmax}] m/s, "
                f"got values in [{lo}, {hi}] m/s; widen the bounds"
            )
        self.shape: tuple[int, ...] = tuple(int(n) for n in v0.shape)
        self.ndim = v0.ndim
        self.seed = int(seed)
        self.register_buffer("initial", v0)  # (nx, [ny,] nz), m/s
        self.register_buffer(
            "coords", grid_coordinates(self.shape, dtype), persistent=False
        )  # (prod(shape), ndim)
        mask = None
        if water_mask is not None:
            mask = _as_tensor(water_mask, torch.bool)
            if tuple(mask.shape) != self.shape:
                raise ValueError(
                    f"water_mask must have the model's shape {self.shape}, got {tuple(mask.shape)}"
                )
        self.register_buffer("water_mask", mask)  # the model's shape, bool, or None

    @property
    def learning_rate(self) -> float:
        """The default Adam rate of this representation's output map."""
        if self.output == "additive":
            return self.additive_learning_rate
        return self.default_learning_rate

    @property
    def n_parameters(self) -> int:
        """Number of trainable scalars."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    @classmethod
    def paper_options(cls, shape: tuple[int, ...]) -> dict[str, Any]:
        """Keyword arguments that give the paper's network size on a grid of ``shape``."""
        return {}

    def velocity(self, initial: Tensor, perturbation: Tensor) -> Tensor:
        """The output map: velocity (m/s) of a perturbation of ``initial`` (same shapes)."""
        if self.output == "additive":
            return (initial + self.scale * perturbation).clamp(self.vmin, self.vmax)
        return bounded_velocity(initial, perturbation, self.vmin, self.vmax)

    def _generator(self) -> torch.Generator:
        """A fresh CPU generator seeded with ``seed``, for the subclass's initialisation."""
        return torch.Generator().manual_seed(self.seed)

    @abstractmethod
    def perturbation(self, coords: Tensor) -> Tensor:
        """Perturbation network at normalised coordinates.

        Parameters
        ----------
        coords : Tensor, shape (..., ndim), dimensionless
            ``(x, [y,] z)`` in [-1, 1] (same convention as :attr:`coords`).

        Returns
        -------
        Tensor, shape (...), dimensionless
            Perturbation ``p`` of the output map (logit units, or units of ``scale``); not
            detached.
        """

    def grid_perturbation(self) -> Tensor:
        """Perturbation on the model grid (its shape); subclasses may evaluate it faster."""
        return self.perturbation(self.coords).reshape(self.shape)

    def forward(self) -> Tensor:
        """Velocity on the model grid.

        Returns
        -------
        Tensor, the model's shape, m/s
            Inside ``[vmin, vmax]``; equal to ``initial`` where ``water_mask`` is True.
        """
        velocity = self.velocity(self.initial, self.grid_perturbation())
        return _hold_water(velocity, self.initial, self.water_mask)

    def forward_at(self, coords: Tensor) -> Tensor:
        """Velocity at arbitrary normalised coordinates (e.g. a finer grid).

        The perturbation network is evaluated at ``coords``; the initial model is interpolated
        (tri)linearly and the water mask by nearest neighbour. On the grid nodes this matches
        :meth:`forward` up to rounding.

        Parameters
        ----------
        coords : Tensor, shape (..., ndim), dimensionless
            ``(x, [y,] z)`` in [-1, 1].

        Returns
        -------
        Tensor, shape (...), m/s
            Velocity, not detached from the parameters.
        """
        coords = coords.to(self.initial.dtype)
        initial = sample_grid(self.initial, coords)  # (...)
        velocity = self.velocity(initial, self.perturbation(coords))
        mask = None
        if self.water_mask is not None:
            mask = sample_grid(self.water_mask.to(initial.dtype), coords, mode="nearest") > 0.5
        return _hold_water(velocity, initial, mask)

    def extra_repr(self) -> str:
        masked = "none" if self.water_mask is None else int(self.water_mask.sum())
        output = self.output if self.output == "bounded" else f"additive x {self.scale:g} m/s"
        return (
            f"shape={self.shape}, output={output}, vmin={self.vmin:g}, vmax={self.vmax:g}, "
            f"seed={self.seed}, masked_cells={masked}"
        )
