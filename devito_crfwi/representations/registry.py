"""The registry of representations (derived from the classes), a factory and a regression fit."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import ArrayLike, Representation, _as_tensor
from .networks import SIREN, FourierFeatures, IGHybrid, LowRank, MultiResGrid, Pixel

REGISTRY: dict[str, type[Representation]] = {
    cls.name: cls for cls in (Pixel, SIREN, FourierFeatures, MultiResGrid, IGHybrid, LowRank)
}
"""Name -> class: "pixel", "inr", "fourier", "grid", "ig", "lowrank". Each class carries its
own facts (default learning rates, additive scale, encoding parameters, the paper's name and
parameter count); the tables below are derived from them."""

REPRESENTATIONS = REGISTRY
"""Alias of :data:`REGISTRY` (the name the package exported first)."""

DEFAULT_LEARNING_RATES: dict[str, float] = {
    name: cls.default_learning_rate for name, cls in REGISTRY.items()
}
"""Name -> Adam rate of the default (bounded) settings. Adam moves every parameter by about lr
per step whatever the gradient's scale, so what differs is how far the velocity moves; checked
by tests/representations/test_representations.py, which fits an anomaly with these rates."""

PRESETS = ("default", "paper")


def option_names(name: str) -> list[str]:
    """The keyword options of the named representation, sorted: its class's and those of the
    classes it extends (:class:`Representation`'s), and ``preset``."""
    names = {"preset"}
    keyword = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for klass in REGISTRY[name].__mro__:
        if issubclass(klass, Representation) and "__init__" in vars(klass):
            names |= {p.name for p in inspect.signature(klass.__init__).parameters.values()
                      if p.kind in keyword}
    return sorted(names - {"self", "initial"})


def check_options(name: str, options: dict[str, Any], given: tuple[str, ...] = ()) -> None:
    """Raise ``TypeError`` naming the options that representation ``name`` does not take;
    the expected ones are listed but for ``given`` (those the caller passes itself)."""
    unknown = sorted(set(options) - set(option_names(name)))
    if unknown:
        expected = [option for option in option_names(name) if option not in given]
        raise TypeError(f"unknown option(s) {unknown} of representation {name!r}; expected "
                        f"some of {expected}")


def make_representation(
    name_or_module: str | nn.Module,
    initial: ArrayLike,
    *,
    vmin: float | None = None,
    vmax: float | None = None,
    seed: int = 0,
    water_mask: ArrayLike | None = None,
    preset: str = "default",
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
    preset : {"default", "paper"}
        ``"paper"`` starts from the paper's network sizes (``cls.paper_options``: the hashed
        2**8-row MPE table, LR-FWI's rank of half the smaller model dimension); ``kwargs``
        override it. Named representations only.
    **kwargs
        Class-specific options (e.g. ``hidden_features``, ``alpha``, ``dtype``, ``output``,
        ``scale``).

    Returns
    -------
    nn.Module
        The representation.

    Raises
    ------
    ValueError
        For an unknown name, for a module whose ``forward()`` does not return the shape of
        ``initial``, or for a module given with ``water_mask`` or options.
    TypeError
        For an option the named representation does not take (see :func:`option_names`).
    """
    shape = tuple(np.shape(initial))
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    if isinstance(name_or_module, nn.Module):
        if water_mask is not None or kwargs or preset != "default":
            raise ValueError(
                "water_mask, preset and options apply to named representations only; build "
                f"them into the module instead, got water_mask={water_mask is not None}, "
                f"preset={preset!r}, options={sorted(kwargs)}"
            )
        with torch.no_grad():
            out_shape = tuple(name_or_module().shape)
        if out_shape != shape:
            raise ValueError(
                f"the representation's forward() must return the initial model's shape {shape}, "
                f"got {out_shape}"
            )
        return name_or_module
    if name_or_module not in REGISTRY:
        raise ValueError(
            f"representation must be one of {sorted(REGISTRY)} or an nn.Module, "
            f"got {name_or_module!r}"
        )
    cls = REGISTRY[name_or_module]
    check_options(name_or_module, kwargs)
    if preset == "paper":
        kwargs = cls.paper_options(shape) | kwargs
    return cls(initial, vmin=vmin, vmax=vmax, seed=seed, water_mask=water_mask, **kwargs)


def paper_parameter_counts(shape: tuple[int, int]) -> list[tuple[str, str, int, int | None]]:
    """(name, paper's name, our count at the paper preset, the paper's count) per method.

    Built on a constant model of ``shape`` (nx, nz); the pixel grid has ``nx * nz``.
    """
    initial = np.full(shape, 2000.0, dtype=np.float32)
    rows = []
    for name, cls in REGISTRY.items():
        if not cls.paper_method:
            continue
        rep = make_representation(name, initial, preset="paper")
        rows.append((name, cls.paper_method, rep.n_parameters, cls.paper_parameters))
    return rows


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
        Learning rate; defaults to the representation's ``learning_rate``.

    Returns
    -------
    list of float, length iterations, (m/s)²
        The loss before each step.
    """
    if lr is None:
        if not isinstance(representation, Representation):
            raise ValueError(
                "lr must be given for a module that is not a Representation (no default rate), "
                f"got {type(representation).__name__}"
            )
        lr = representation.learning_rate
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
