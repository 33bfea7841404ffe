"""Names of the representations, their default learning rates, a factory and a regression fit."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .base import ArrayLike, Representation, _as_tensor
from .networks import SIREN, FourierFeatures, IGHybrid, LowRank, MultiResGrid, Pixel

REPRESENTATIONS: dict[str, type[Representation]] = {
    cls.name: cls for cls in (Pixel, SIREN, FourierFeatures, MultiResGrid, IGHybrid, LowRank)
}
"""Name -> class: "pixel", "inr", "fourier", "grid", "ig", "lowrank"."""

# Adam learning rates for the default settings of each class. Adam moves every parameter by about
# lr per step, whatever the gradient's scale (so the m/s units of the loss do not matter); what
# differs is how far the velocity moves for that step. Pixel: dv ~ lr * (vmax - vmin) / 4 per node,
# i.e. ~7 m/s per iteration for lr = 1e-2 and a 3000 m/s range, the size of a conventional FWI
# update. SIREN-based ones (inr, lowrank): omega0 = 30 amplifies every weight change; SIREN's
# authors train with 1e-4, and low-rank diverged at 1e-3 in our check. Grids: features start at
# 1e-4 and each table entry only moves the nodes around it, hence instant-NGP's 1e-2. ReLU MLPs on
# encodings (fourier, ig): the usual 1e-3. Checked by
# tests/representations/test_representations.py, which fits a Gaussian anomaly with these rates.
DEFAULT_LEARNING_RATES: dict[str, float] = {
    "pixel": 1e-2,
    "inr": 1e-4,
    "fourier": 1e-3,
    "grid": 1e-2,
    "ig": 1e-3,
    "lowrank": 1e-4,
}


def make_representation(
    name_or_module: str | nn.Module,
    initial: ArrayLike,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    seed: int = 0,
    water_mask: ArrayLike | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a representation by name, or check a ready-made module.

    Parameters
    ----------
    name_or_module : str or nn.Module
        A key of :data:`REPRESENTATIONS` ("pixel", "inr", "fourier", "grid", "ig", "lowrank"),
        or a module whose ``forward()`` returns the (nx, nz) velocity in m/s; the module is
        returned as is (its own bounds, seed and mask apply).
    initial : Tensor or numpy.ndarray, shape (nx, nz), m/s
        Initial model.
    vmin, vmax : float or None, m/s
        Velocity bounds (see :class:`Representation`).
    seed : int
        Seed of the initialisation.
    water_mask : Tensor or numpy.ndarray of bool, shape (nx, nz), optional
        True where the velocity is held at ``initial``; named representations only.
    **kwargs
        Class-specific options (e.g. ``hidden_features``, ``alpha``, ``dtype``).

    Returns
    -------
    nn.Module
        The representation.

    Raises
    ------
    ValueError
        For an unknown name, for a module whose ``forward()`` does not return the shape of
        ``initial``, or for a module given with ``water_mask`` or options.
    """
    shape = tuple(np.shape(initial))
    if isinstance(name_or_module, nn.Module):
        if water_mask is not None or kwargs:
            raise ValueError(
                "water_mask and options apply to named representations only; build them into "
                f"the module instead, got water_mask={water_mask is not None}, "
                f"options={sorted(kwargs)}"
            )
        with torch.no_grad():
            out_shape = tuple(name_or_module().shape)
        if out_shape != shape:
            raise ValueError(
                f"the representation's forward() must return the initial model's shape {shape}, "
                f"got {out_shape}"
            )
        return name_or_module
    if name_or_module not in REPRESENTATIONS:
        raise ValueError(
            f"representation must be one of {sorted(REPRESENTATIONS)} or an nn.Module, "
            f"got {name_or_module!r}"
        )
    cls = REPRESENTATIONS[name_or_module]
    return cls(initial, vmin=vmin, vmax=vmax, seed=seed, water_mask=water_mask, **kwargs)


def fit(
    representation: nn.Module,
    target: ArrayLike,
    iterations: int = 300,
    lr: float | None = None,
) -> list[float]:
    """Regress a representation to a target model by mean-squared error with Adam.

    Used to pretrain on the initial model (or any prior) before inversion. The representation's
    parameters are updated in place; ``target`` is not modified.

    Parameters
    ----------
    representation : nn.Module
        Module whose ``forward()`` returns (nx, nz) velocities in m/s.
    target : Tensor or numpy.ndarray, shape (nx, nz), m/s
        Model to fit.
    iterations : int
        Number of Adam steps.
    lr : float, optional
        Learning rate; defaults to ``DEFAULT_LEARNING_RATES[representation.name]``.

    Returns
    -------
    list of float, length iterations, (m/s)²
        The loss before each step.
    """
    if lr is None:
        name = getattr(representation, "name", None)
        if name not in DEFAULT_LEARNING_RATES:
            raise ValueError(
                f"lr must be given for a representation without a default rate, got name {name!r}"
            )
        lr = DEFAULT_LEARNING_RATES[name]
    with torch.no_grad():
        reference = representation()
    goal = _as_tensor(target, reference.dtype).to(reference.device)
    if goal.shape != reference.shape:
        raise ValueError(
            f"target must have the representation's shape {tuple(reference.shape)}, "
            f"got {tuple(goal.shape)}"
        )
    optimizer = torch.optim.Adam(representation.parameters(), lr=lr)
    history: list[float] = []
    for _ in range(iterations):
        optimizer.zero_grad(set_to_none=True)
        loss = torch.mean((representation() - goal) ** 2)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history
