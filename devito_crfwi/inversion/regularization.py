"""Regularisation of CR-FWI: penalties on the roughness of the velocity model (torch only).

Three penalties of a model ``v`` (x, z) or (x, y, z) on a regular grid of ``spacing``, each
a mean over the grid's N cells (:data:`PENALTIES`):

- ``"tv"``: isotropic total variation, smoothed, ``mean sqrt(|∇v|² + ε²)``; ε keeps it
  differentiable where the model is flat (it is then ε, not 0);
- ``"tikhonov1"``: ``mean |∇v|²``;
- ``"tikhonov2"``: ``mean ‖∇∇v‖²_F``, the Hessian's Frobenius norm (pure and mixed second
  derivatives, the mixed ones counted twice as in the matrix): zero exactly for linear models.

Derivatives are forward differences, divided by the spacing. A difference whose stencil
reaches past the grid counts as zero (a Neumann boundary), and so does one that touches a
cell outside ``free`` (the water layer held fixed by ``CRFWIProblem``: the sea-floor jump is
known, and no penalty should pull the sediments towards water velocity).

:class:`Regularizer` takes these penalties of the model made dimensionless, ``u = v / v_ref``
with lengths in units of ``L = |Ω|^(1/d)`` (the geometric mean of the grid's extents
``n_i h_i``, m). Each term is then a number of the order of the model's relative variation
whatever the grid spacing, the grid size or the velocities: a straight interface across a
square model with a jump of 10 % of ``v_ref`` has a TV of 0.1 (plus about ε), and a linear
increase by 50 % of ``v_ref`` across a square model a first-order Tikhonov of about 0.25.
A weight therefore compares directly with the relative data misfits of :mod:`.losses`
(about 1 for a start far from the data), and keeps its meaning when the grid is refined.
ε is in those units too: the default 0.01 is a relative variation of 1 % over ``L``, far
below the jumps of a blocky model.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["PENALTIES", "Regularizer", "Term", "parse_regularization", "tikhonov1",
           "tikhonov2", "total_variation"]


def _difference(v: torch.Tensor, axes: Sequence[int], spacing: Sequence[float],
                free: torch.Tensor | None) -> torch.Tensor:
    """Forward difference of ``v`` along each of ``axes`` in turn (an axis twice: the
    second difference), divided by the spacings; shorter by one along each. Zero where the
    stencil touches a cell outside ``free`` (bool, ``v``'s shape)."""
    for axis in axes:
        v = torch.diff(v, dim=axis) / spacing[axis]
        if free is not None:
            n = free.shape[axis]
            free = free.narrow(axis, 1, n - 1) & free.narrow(axis, 0, n - 1)
    return v if free is None else v * free


def _check(v: torch.Tensor, spacing: Sequence[float], free: torch.Tensor | None) -> None:
    if v.dim() not in (2, 3) or len(spacing) != v.dim():
        raise ValueError(
            f"v must be 2-D or 3-D with one spacing per axis, got shape {tuple(v.shape)} and "
            f"spacing {tuple(spacing)}"
        )
    if free is not None and free.shape != v.shape:
        raise ValueError(f"free must have v's shape {tuple(v.shape)}, got {tuple(free.shape)}")


def total_variation(v: torch.Tensor, spacing: Sequence[float], epsilon: float,
                    free: torch.Tensor | None = None) -> torch.Tensor:
    """Smoothed isotropic total variation ``mean over cells of sqrt(|∇v|² + ε²)``.

    Parameters
    ----------
    v : Tensor (x, z) or (x, y, z)
        The model, in any unit.
    spacing : sequence of float, one per axis
        Grid spacing, in any length unit (``∇v`` is in units of v per length).
    epsilon : float
        Smoothing, in the units of ``|∇v|``; the TV of a constant model is ``epsilon``.
    free : bool Tensor, v's shape, optional
        The cells regularised; differences touching another cell count as zero.
    """
    _check(v, spacing, free)
    squares = torch.zeros_like(v)
    for axis in range(v.dim()):
        d = _difference(v, (axis,), spacing, free)
        # Zero at the last index: the Neumann boundary, and aligns the axes' differences.
        squares = squares + torch.cat([d, torch.zeros_like(v.narrow(axis, 0, 1))], dim=axis)**2
    return torch.sqrt(squares + epsilon**2).mean()


def tikhonov1(v: torch.Tensor, spacing: Sequence[float],
              free: torch.Tensor | None = None) -> torch.Tensor:
    """First-order Tikhonov ``mean over cells of |∇v|²`` (units of (v per length)²); v,
    spacing and free as in :func:`total_variation`."""
    _check(v, spacing, free)
    return sum(_difference(v, (a,), spacing, free).square().sum()
               for a in range(v.dim())) / v.numel()


def tikhonov2(v: torch.Tensor, spacing: Sequence[float],
              free: torch.Tensor | None = None) -> torch.Tensor:
    """Second-order Tikhonov ``mean over cells of ‖∇∇v‖²_F = Σ_i (∂_i∂_i v)² + 2 Σ_{i<j}
    (∂_i∂_j v)²`` (units of (v per length²)²); zero for v linear in the coordinates. v,
    spacing and free as in :func:`total_variation`."""
    _check(v, spacing, free)
    total = 0.0
    for a in range(v.dim()):
        for b in range(a, v.dim()):
            term = _difference(v, (a, b), spacing, free).square().sum()
            total = total + (term if a == b else 2.0 * term)
    return total / v.numel()


PENALTIES: dict[str, tuple[Callable[..., torch.Tensor], dict[str, float]]] = {
    "tv": (total_variation, {"epsilon": 0.01}),
    "tikhonov1": (tikhonov1, {}),
    "tikhonov2": (tikhonov2, {}),
}
"""Kind -> (penalty(v, spacing, free=..., **options), its options and their defaults)."""


@dataclasses.dataclass(frozen=True)
class Term:
    """One regularisation term: a kind of :data:`PENALTIES`, its weight (>= 0; 0 records
    the term without adding it to the loss) and its options, defaults filled in."""

    kind: str
    weight: float
    options: dict[str, float] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """``{"weight": w, **options}``: JSON-able, the same for every spelling of a term."""
        return {"weight": self.weight, **self.options}


def _real(value: Any, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def parse_regularization(spec: Mapping[str, Any] | None) -> tuple[Term, ...]:
    """The terms of ``CRFWIProblem``'s ``regularization`` argument, checked.

    ``spec`` maps a kind of :data:`PENALTIES` to its weight, or to a dict of ``weight`` and
    the kind's options: ``{"tv": 1e-2}``, ``{"tv": {"weight": 1e-2, "epsilon": 0.05},
    "tikhonov2": 1e-3}``. None or ``{}``: no regularisation. Terms come in the order of
    :data:`PENALTIES`. Raises ``TypeError`` or ``ValueError`` naming the kind and value.
    """
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise TypeError(
            "regularization must be a dict {kind: weight} or {kind: {'weight': w, option: "
            f"value}}, e.g. {{'tv': 1e-2}}, got {type(spec).__name__} {spec!r}"
        )
    unknown = [k for k in spec if k not in PENALTIES]
    if unknown:
        raise ValueError(
            f"regularization: unknown kind(s) {unknown}; expected some of {list(PENALTIES)}"
        )
    terms = []
    for kind, (_, defaults) in PENALTIES.items():
        if kind not in spec:
            continue
        value, name = spec[kind], f"regularization[{kind!r}]"
        if isinstance(value, Mapping):
            given = dict(value)
            if "weight" not in given:
                raise ValueError(f"{name} needs a 'weight', got {value!r}")
            weight = given.pop("weight")
            extra = sorted(set(given) - set(defaults))
            if extra:
                raise ValueError(
                    f"{name}: unknown option(s) {extra}; {kind} takes "
                    f"{['weight', *defaults]}"
                )
        else:
            weight, given = value, {}
        options = {k: _real(given.get(k, default), f"{name} {k}", positive=True)
                   for k, default in defaults.items()}
        terms.append(Term(kind, _real(weight, f"{name} weight", positive=False), options))
    return tuple(terms)


class Regularizer:
    """The terms of a regularisation on one grid, taken of ``v / v_ref`` with lengths in
    units of ``L`` (see the module's docstring).

    Parameters
    ----------
    terms : sequence of Term
        From :func:`parse_regularization`.
    spacing : sequence of float, m
        (dx, dz) or (dx, dy, dz) of the model grid.
    shape : sequence of int
        (nx, nz) or (nx, ny, nz).
    reference_velocity : float, m/s
        ``v_ref``: ``CRFWIProblem`` takes the initial model's mean.
    free : array-like of bool (shape), optional
        Cells regularised (all by default); ``CRFWIProblem`` passes those outside the water.
    """

    def __init__(self, terms: Sequence[Term], spacing: Sequence[float], shape: Sequence[int],
                 reference_velocity: float, free=None) -> None:
        self.terms = tuple(terms)
        self.reference_velocity = float(reference_velocity)
        self.length = math.prod(n * h for n, h in zip(shape, spacing, strict=True)) ** (
            1.0 / len(shape))
        """L, m."""
        self._spacing = tuple(float(h) / self.length for h in spacing)
        self._free = None if free is None else torch.from_numpy(np.array(free, dtype=bool))

    def __call__(self, vp: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's penalty (unweighted, dimensionless) of ``vp`` (shape, m/s), by kind."""
        u = vp / self.reference_velocity
        free = None if self._free is None else self._free.to(vp.device)
        return {t.kind: PENALTIES[t.kind][0](u, self._spacing, free=free, **t.options)
                for t in self.terms}
