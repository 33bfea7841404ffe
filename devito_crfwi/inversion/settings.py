"""How a :class:`~devito_crfwi.CRFWIProblem` inverts: its options, resolved and checked once.

:meth:`InversionSettings.resolve` turns the keyword arguments of ``CRFWIProblem`` (names or
callables, defaults left as None) into one frozen value; each check names the argument, what
it expects and what it got. The data and models (observed gathers, initial and true models,
water mask) are checked in :mod:`.checks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..physics import EngineSettings, Survey
from ..representations import REGISTRY, Representation, default_bounds
from ..representations.registry import check_options
from .losses import LOSSES
from .regularization import Term, parse_regularization

__all__ = ["ENGINE_OPTIONS", "OPTIMIZERS", "SHOT_ORDERS", "WAVELETS", "InversionSettings",
           "check_representation_options", "check_wavelet"]

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "lbfgs": torch.optim.LBFGS,
}
"""Name -> torch optimiser class. L-BFGS runs one iteration with a strong-Wolfe line search
per step (several modelling passes per iteration)."""

SHOT_ORDERS = ("random", "epoch")
"""How mini-batches of shots are chosen (see ``CRFWIProblem``'s ``shot_order``)."""

WAVELETS = ("survey", "estimate")
"""Where the modelled source comes from (see ``CRFWIProblem``'s ``wavelet``)."""

_OWN_ARGUMENTS = {"vmin": "bounds=(vmin, vmax)", "vmax": "bounds=(vmin, vmax)", "seed": "seed",
                  "water_mask": "water_mask"}
"""Options of every representation that ``CRFWIProblem`` passes itself, by its argument."""

ENGINE_OPTIONS = tuple(n for n in EngineSettings.fields() if n != "vmax") + ("client",)
"""The engine options ``CRFWIProblem`` takes: every engine setting but vmax (which is
``bounds[1]``), and the Dask client."""

_LBFGS_LR = 1.0  # L-BFGS steps are quasi-Newton steps: rate 1 takes them whole (the line
# search shortens them where needed)


@dataclasses.dataclass(frozen=True)
class InversionSettings:
    """The options of one inversion, as :class:`~devito_crfwi.CRFWIProblem` documents them.

    Build it with :meth:`resolve`, which checks every option; the fields are then the
    resolved values (names and callables split, defaults filled in).
    """

    representation_name: str
    """The registry name, a module's ``name`` attribute, or its class name."""
    representation_options: dict[str, Any]
    """Keyword arguments of the named representation."""
    loss_name: str
    loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    """``(pred, obs) -> scalar Tensor`` on (shot, time, receiver)."""
    regularization: tuple[Term, ...]
    """The model terms added to the loss (:func:`.regularization.parse_regularization`)."""
    optimizer_name: str
    optimizer_factory: Callable[..., torch.optim.Optimizer]
    """``factory(params, lr=..., ...)``: a class of :data:`OPTIMIZERS` or the user's callable."""
    lr: float | None
    """Learning rate; None until the named representation is built (then its own default,
    see :meth:`learning_rate`)."""
    bounds: tuple[float, float]
    """``(vmin, vmax)`` in m/s."""
    shots_per_iteration: int | None
    """Shots per mini-batch; None: all shots."""
    shot_order: str
    """One of :data:`SHOT_ORDERS`."""
    frequency_schedule: tuple[tuple[float | None, int], ...]
    """``((cutoff_hz or None, iterations), ...)``; empty: full band throughout."""
    seed: int
    compile: bool
    engine_options: dict[str, Any]
    """Keyword arguments of the :class:`~devito_crfwi.WaveOperator` (names of
    :data:`ENGINE_OPTIONS`)."""
    wavelet: str = "survey"
    """One of :data:`WAVELETS`."""
    wavelet_every: int | None = None
    """With ``wavelet="estimate"``: also re-estimate every this many iterations; None: at
    the start of each frequency stage only."""

    @classmethod
    def resolve(
        cls,
        survey: Survey,
        initial: xr.DataArray,
        representation: str | torch.nn.Module,
        *,
        loss: str | Callable,
        regularization: dict[str, Any] | None,
        optimizer: str | Callable,
        lr: float | None,
        shots_per_iteration: int | None,
        shot_order: str,
        frequency_schedule: Sequence[tuple[float | None, int]] | None,
        bounds: tuple[float, float] | None,
        seed: int,
        representation_options: dict | None,
        compile: bool,  # noqa: A002 (torch's word for it)
        engine_options: dict[str, Any],
        wavelet: str = "survey",
        wavelet_every: int | None = None,
    ) -> InversionSettings:
        """Check ``CRFWIProblem``'s options for ``survey`` and the ``initial`` model (m/s).

        Raises ``TypeError`` or ``ValueError`` naming the option at fault.
        """
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be True or False, got {compile!r}")
        _check_engine_options(engine_options)
        loss_name, loss_function = _loss(loss)
        optimizer_name, optimizer_factory = _optimizer(optimizer)
        wavelet, wavelet_every = check_wavelet(wavelet, wavelet_every)
        return cls(
            representation_name=_representation_name(representation),
            representation_options=check_representation_options(representation,
                                                                representation_options),
            loss_name=loss_name,
            loss_function=loss_function,
            regularization=parse_regularization(regularization),
            optimizer_name=optimizer_name,
            optimizer_factory=optimizer_factory,
            lr=_lr(lr, optimizer_name, representation),
            bounds=_bounds(bounds, initial, representation),
            shots_per_iteration=_shots_per_iteration(shots_per_iteration, survey.n_shots),
            shot_order=_shot_order(shot_order),
            frequency_schedule=_frequency_schedule(frequency_schedule, survey.dt),
            seed=_integer("seed", seed, 0),
            compile=compile,
            engine_options=dict(engine_options),
            wavelet=wavelet,
            wavelet_every=wavelet_every,
        )

    def learning_rate(self, representation: torch.nn.Module) -> float:
        """The rate given, else the default of ``representation`` (built from these settings)."""
        return self.lr if self.lr is not None else float(representation.learning_rate)

    def make_optimizer(self, parameters: Iterable[torch.nn.Parameter],
                       lr: float) -> torch.optim.Optimizer:
        """The optimiser of ``parameters`` at rate ``lr``."""
        params = list(parameters)
        if not params:
            raise ValueError("the representation has no parameters to optimise")
        if self.optimizer_name == "lbfgs":
            return self.optimizer_factory(params, lr=lr, max_iter=1, max_eval=6, history_size=10,
                                          line_search_fn="strong_wolfe")
        return self.optimizer_factory(params, lr=lr)


def check_representation_options(representation: str | torch.nn.Module | None,
                                  options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``CRFWIProblem``'s ``representation_options`` as a dict, after refusing (``TypeError``)
    a non-mapping, an option that repeats one of its own arguments (``vmin``, ``vmax``,
    ``seed``, ``water_mask``) and one the named ``representation`` does not take."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError("representation_options must be a dict of keyword options, got "
                        f"{type(options).__name__}")
    for name, argument in _OWN_ARGUMENTS.items():
        if name in options:
            raise TypeError(f"representation_options[{name!r}] repeats CRFWIProblem's own "
                            f"argument: give it as {argument} only")
    if isinstance(representation, str) and representation in REGISTRY:
        try:
            check_options(representation, options, tuple(_OWN_ARGUMENTS))
        except TypeError as err:
            raise TypeError(f"representation_options: {err}") from None
    return dict(options)


def _integer(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``: a Python or numpy integer (no bool, float or text)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def is_whole(value) -> bool:
    """Whether ``value`` is a whole number: an int, numpy integer or integral float (no bool
    or text, which ``int()`` would take or fail on with a message naming nothing)."""
    return (not isinstance(value, bool) and isinstance(value, int | float | np.number)
            and bool(np.isfinite(value)) and int(value) == value)


def _check_engine_options(engine_options: dict[str, Any]) -> None:
    # Only the names: the values are EngineSettings' to check (WaveOperator builds it).
    unknown = sorted(set(engine_options) - set(ENGINE_OPTIONS))
    if unknown:
        hint = " (vmax is bounds[1])" if "vmax" in unknown else ""
        raise TypeError(
            f"unknown engine option(s) {unknown}{hint}; expected some of {list(ENGINE_OPTIONS)}"
        )


def _loss(loss) -> tuple[str, Callable]:
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss
    if loss in LOSSES:
        return loss, LOSSES[loss]
    raise ValueError(
        f"loss must be one of {sorted(LOSSES)} or a callable(pred, obs), got {loss!r}"
    )


def _optimizer(optimizer) -> tuple[str, Callable]:
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {sorted(OPTIMIZERS)} or a callable(params, lr=...), "
                f"got {optimizer!r}"
            )
        return optimizer, OPTIMIZERS[optimizer]
    if callable(optimizer):
        return getattr(optimizer, "__name__", type(optimizer).__name__), optimizer
    raise ValueError(f"optimizer must be a name or a callable, got {optimizer!r}")


def _representation_name(representation) -> str:
    if isinstance(representation, str):
        return representation
    if not isinstance(representation, torch.nn.Module):
        raise TypeError(
            "representation must be a name or a torch.nn.Module, got "
            f"{type(representation).__name__}"
        )
    return getattr(representation, "name", "") or type(representation).__name__


def _lr(lr, optimizer_name: str, representation) -> float | None:
    if lr is None:
        if optimizer_name == "lbfgs":
            lr = _LBFGS_LR
        elif isinstance(representation, str):
            return None  # the named representation's own default, once it is built
        elif isinstance(representation, Representation):
            lr = representation.learning_rate
        else:
            raise ValueError(
                f"lr must be given for representation {_representation_name(representation)!r} "
                "(a module that is not a devito_crfwi Representation has no default learning "
                "rate)"
            )
    lr = float(lr)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    return lr


def _bounds(bounds, initial: xr.DataArray, representation) -> tuple[float, float]:
    values = np.asarray(initial, dtype=np.float64)
    if bounds is None:
        # A ready-made module brings its own bounds; otherwise the package's default.
        own = (getattr(representation, "vmin", None), getattr(representation, "vmax", None))
        if all(isinstance(b, int | float) for b in own):
            return float(own[0]), float(own[1])
        return default_bounds(values)
    try:
        vmin, vmax = (float(b) for b in bounds)
    except (TypeError, ValueError) as err:
        raise ValueError(f"bounds must be (vmin, vmax) in m/s, got {bounds!r}") from err
    if not (np.isfinite(vmin) and np.isfinite(vmax) and 0 < vmin < vmax):
        raise ValueError(
            f"bounds must be (vmin, vmax) with 0 < vmin < vmax m/s, got ({vmin}, {vmax})"
        )
    lo, hi = float(values.min()), float(values.max())
    if lo < vmin or hi > vmax:
        raise ValueError(
            f"the initial model ({lo:g} to {hi:g} m/s) must lie within bounds "
            f"({vmin:g}, {vmax:g}) m/s; widen the bounds"
        )
    return vmin, vmax


def _shots_per_iteration(k, n_shots: int) -> int | None:
    if k is None:
        return None
    if not is_whole(k) or not 1 <= k <= n_shots:
        raise ValueError(
            f"shots_per_iteration must be an integer in 1..{n_shots} (the number of shots), "
            f"got {k!r}"
        )
    return int(k)


def _shot_order(shot_order) -> str:
    if shot_order not in SHOT_ORDERS:
        raise ValueError(f"shot_order must be one of {list(SHOT_ORDERS)}, got {shot_order!r}")
    return shot_order


def check_wavelet(wavelet, wavelet_every) -> tuple[str, int | None]:
    """``CRFWIProblem``'s ``wavelet`` and ``wavelet_every``, checked (``ValueError`` naming
    the one at fault); also the ``invert`` command's check of its TOML keys."""
    return _wavelet(wavelet), _wavelet_every(wavelet_every, wavelet)


def _wavelet(wavelet) -> str:
    if not isinstance(wavelet, str) or wavelet not in WAVELETS:
        shown = f"an array of shape {np.shape(wavelet)}" if np.ndim(wavelet) else repr(wavelet)
        raise ValueError(f"wavelet must be one of {list(WAVELETS)}, got {shown} (a known "
                         "wavelet is the survey's: Survey(..., wavelet=...))")
    return wavelet


def _wavelet_every(every, wavelet) -> int | None:
    if every is None:
        return None
    if wavelet != "estimate":
        raise ValueError(f"wavelet_every = {every!r} needs wavelet='estimate', got "
                         f"wavelet={wavelet!r}")
    if isinstance(every, bool) or not isinstance(every, int | np.integer) or every < 1:
        raise ValueError(f"wavelet_every must be an integer >= 1 (iterations) or None, got "
                         f"{every!r}")
    return int(every)


def _frequency_schedule(schedule, dt: float) -> tuple[tuple[float | None, int], ...]:
    if schedule is None:
        return ()
    stages = []
    nyquist = 0.5 / dt
    try:
        items = list(schedule)
    except TypeError as err:
        raise TypeError("frequency_schedule must be a list of (cutoff_hz, iterations)") from err
    if not items:
        raise ValueError("frequency_schedule must hold at least one (cutoff_hz, iterations)")
    for item in items:
        try:
            cutoff, n = item
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"frequency_schedule entries must be (cutoff_hz, iterations), got {item!r}"
            ) from err
        if cutoff is not None:
            if isinstance(cutoff, bool) or not isinstance(cutoff, int | float | np.number):
                raise ValueError(f"frequency_schedule cutoffs must be numbers (Hz) or None, got "
                                 f"{cutoff!r}")
            cutoff = float(cutoff)
            if not 0 < cutoff < nyquist:
                raise ValueError(
                    f"frequency_schedule cutoffs must be in (0, {nyquist:g}) Hz (the Nyquist "
                    f"frequency of dt = {dt:g} s) or None for the full band, got {cutoff:g}"
                )
        if not is_whole(n) or n < 1:
            raise ValueError(f"frequency_schedule iterations must be integers >= 1, got {n!r}")
        stages.append((cutoff, int(n)))
    return tuple(stages)
