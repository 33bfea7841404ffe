"""``CRFWIProblem``: full-waveform inversion with a continuous representation of the model.

The model is ``vp = representation()`` (a ``torch.nn.Module`` on the grid of the initial
model, bounded to ``bounds``); each iteration models the shots with the Devito
:class:`~devito_crfwi.WaveOperator`, compares them with the observed gathers and takes one
optimiser step on the representation's parameters. The gradient with respect to the velocity
is the adjoint-state gradient; autograd carries it through the representation (IG-FWI,
arXiv 2603.22362).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from .. import metrics as _metrics
from ..bridge import WaveOperator
from ..io.atomic import locked
from ..io.schema import check_model, check_same_grid
from ..physics import Survey, estimate_wavelet
from ..physics.gathers import check_gathers
from ..representations import make_representation
from .checkpoint import (
    LOCK_NAME,
    checkpoint_path,
    content_hash,
    fingerprint_of,
    load_state,
    save_state,
)
from .checks import check_water_mask, jsonable
from .filters import butterworth
from .losses import live_traces
from .regularization import Regularizer
from .settings import OPTIMIZERS, InversionSettings, is_whole

__all__ = ["CRFWIProblem", "OPTIMIZERS"]

# History entries of the wavelet estimates (wavelet="estimate"): the iteration each was made
# before, and its samples. Not per iteration: the result holds them as "wavelet".
_WAVELET_KEYS = ("wavelet_iteration", "wavelet")


class CRFWIProblem:
    """Full-waveform inversion of observed gathers with a continuous model representation.

    Parameters
    ----------
    observed : xr.DataArray (shot, time, receiver)
        Observed gathers, from :func:`~devito_crfwi.simulate` or
        :func:`~devito_crfwi.read_shots`; they must match ``survey`` (shots, samples,
        receivers, dt and, where stored, positions). Missing traces (all NaN: a variable
        acquisition, or dead traces masked by ``read_shots(..., mask_dead_traces=True)``)
        are left out of the misfit.
    survey : Survey
        The acquisition that recorded them (its wavelet is the modelled source).
    initial : xr.DataArray (x, z) or (x, y, z), m/s
        Initial model; sets the grid, and the representation starts from it.
    representation : str or nn.Module
        "pixel", "inr", "fourier", "grid", "ig" (IG-FWI, default), "lowrank", or a module
        whose ``forward()`` returns vp (nx, nz) in m/s inside ``bounds``.
    loss : {"l2", "l2_tracenorm", "l1", "ncc", "huber", "envelope", "wasserstein"} or callable
        Data misfit: relative L2 (of the traces, or of each trace over its peak), relative L1,
        normalised cross-correlation per trace, relative Huber, L2 of squared envelopes, or
        the traces' 1-D Wasserstein distance (see
        :data:`~devito_crfwi.inversion.losses.LOSSES`), or
        ``callable(pred, obs) -> scalar Tensor`` on (shot, time, receiver). With missing
        traces (NaN, see :mod:`~devito_crfwi.io.traces`) every loss gets the recorded ones
        only, as one gather (1, time, trace) (:func:`~.losses.live_traces`).
    regularization : dict, optional
        Model terms added to the data misfit: ``{kind: weight}`` or ``{kind: {"weight": w,
        option: value}}`` with kinds "tv" (isotropic total variation, option ``epsilon``,
        default 0.01), "tikhonov1" (squared gradient) and "tikhonov2" (squared Hessian), e.g.
        ``{"tv": 1e-2}``. The loss is ``misfit + Σ weight × term``; each term is dimensionless
        (of ``vp / mean(initial)`` with lengths over the model's size, see
        :mod:`~devito_crfwi.inversion.regularization`), of the order of the model's
        relative variation, so weights compare with the relative misfits. Differences
        touching the ``water_mask`` are not penalised (the sea floor's jump is known).
    optimizer : {"adam", "adamw", "sgd", "rmsprop", "lbfgs"} or callable
        A name of :data:`~devito_crfwi.inversion.settings.OPTIMIZERS` or
        ``callable(params, lr=...) -> torch.optim.Optimizer``.
    lr : float, optional
        Learning rate; default the representation's ``learning_rate`` (its class's rate for
        the output map in use: e.g. 1e-4 for every network with ``output="additive"``, as in
        the paper; 1.0 for L-BFGS).
    shots_per_iteration : int, optional
        Mini-batch of shots per iteration (default all shots), chosen as ``shot_order`` says.
    shot_order : {"random", "epoch"}
        ``"random"``: each mini-batch drawn afresh from a generator seeded with ``seed``
        (a shot may repeat before another is used). ``"epoch"``: the mini-batches walk through
        a seeded permutation of the shots, a fresh one per pass, so each pass of
        ``ceil(n_shots / shots_per_iteration)`` iterations uses every shot exactly once when
        ``shots_per_iteration`` divides ``n_shots`` (a batch may straddle two passes
        otherwise). The permutation depends only on ``seed`` and the iteration, so a resumed
        run draws what an uninterrupted one would.
    frequency_schedule : list of (float or None, int), optional
        Multiscale inversion: ``[(cutoff_hz, iterations), ...]``. Observed and modelled data
        are low-passed alike (:func:`~devito_crfwi.inversion.filters.butterworth`) at each
        stage's cutoff (None: full band); iterations past the schedule keep the last stage.
    bounds : (float, float), m/s, optional
        ``(vmin, vmax)`` of the model; default ``(0.8 min(initial), 1.25 max(initial))``.
        The operator's time step is stable up to ``vmax``.
    water_mask : array-like of bool (x, z) or True, optional
        Cells held at the initial model (the water layer); True detects it with
        :func:`~devito_crfwi.water_mask` (1500 m/s) on ``initial``. A DataArray must lie on
        ``initial``'s grid (same dims and coords); a plain array must have its shape.
    true_model : xr.DataArray (x, z), m/s, optional
        Enables metrics (MSE, RMSE, PSNR, SSIM) after every iteration. On ``initial``'s
        grid (same dims and coords; a plain array: the same shape).
    seed : int
        Seed of the representation's initialisation and of the shot mini-batches.
    representation_options : dict, optional
        Keyword arguments of the named representation (e.g. ``{"alpha": 0.5}``).
    compile : bool
        Run the representation through :func:`torch.compile` (compiled on the first
        iteration, ~5-10 s). Measured on the paper-size networks at 288 x 94: 1.3-1.7x faster
        networks, 2-5% of a 13-shot epoch (bench/NETWORK.md); off by default because small
        problems would pay the compile time for nothing.
    wavelet : {"survey", "estimate"}
        The modelled source: the survey's wavelet, or the least-squares signature of the
        observed data in the current model (:func:`~devito_crfwi.estimate_wavelet`, one for
        all shots), estimated before the first iteration and again at the start of each
        frequency stage. Why there: each estimate costs one forward of every shot (half a
        full-batch iteration) and is only as good as the model, which a stage improves;
        within a stage the objective stays fixed, so the optimiser's state stays valid and
        the wavelet cannot chase, iteration by iteration, the kinematic errors the model
        should remove. Estimated from the full band on the engine of the inversion (serially,
        also with a Dask ``client``).
    wavelet_every : int, optional
        With ``wavelet="estimate"``: also re-estimate every this many iterations (for runs
        without a schedule, whose single stage would otherwise keep the initial model's).
    **engine_options
        Fields of :class:`~devito_crfwi.physics.EngineSettings` but ``vmax`` (which is
        ``bounds[1]``): ``space_order``, ``boundary_width``, ``free_surface``, ``dt``,
        ``checkpoints``, ``memory_limit``; and ``client`` (Dask), as for
        :class:`~devito_crfwi.WaveOperator`.

    Attributes
    ----------
    representation : nn.Module
        The model representation being optimised.
    operator : WaveOperator
        Built with ``vmax = bounds[1]``.
    optimizer : torch.optim.Optimizer
    lr : float
        The learning rate in use (given, or the default above).
    iteration : int
        Number of completed iterations.
    bounds, shots_per_iteration, shot_order, frequency_schedule, seed, compile, engine_options
        The arguments, resolved (read-only); also ``loss_name``, ``optimizer_name``,
        ``representation_name``, ``representation_options``, ``wavelet`` and
        ``wavelet_every``.

    Examples
    --------
    >>> problem = CRFWIProblem(observed, survey, initial=smooth(vp_true), representation="ig")
    >>> result = problem.solve(iterations=300)
    >>> result["vp"].plot()
    """

    def __init__(
        self,
        observed,
        survey: Survey,
        initial: xr.DataArray,
        representation: str | torch.nn.Module = "ig",
        *,
        loss: str | Callable = "l2",
        regularization: dict[str, Any] | None = None,
        optimizer: str | Callable = "adam",
        lr: float | None = None,
        shots_per_iteration: int | None = None,
        shot_order: str = "random",
        frequency_schedule: Sequence[tuple[float | None, int]] | None = None,
        bounds: tuple[float, float] | None = None,
        water_mask=None,
        true_model: xr.DataArray | None = None,
        seed: int = 0,
        representation_options: dict | None = None,
        compile: bool = False,  # noqa: A002 (torch's word for it)
        wavelet: str = "survey",
        wavelet_every: int | None = None,
        **engine_options,
    ) -> None:
        if not isinstance(survey, Survey):
            raise TypeError(f"survey must be a devito_crfwi.Survey, got {type(survey).__name__}")
        grid = check_model(initial, "initial", where="CRFWIProblem")
        self.survey = survey
        self.initial = initial.copy()
        self.true_model = None
        if true_model is not None:
            check_same_grid(true_model, initial, "true_model", model_name="initial",
                            where="CRFWIProblem")
            self.true_model = xr.DataArray(
                np.asarray(true_model), dims=initial.dims, coords=initial.coords
            )
        self._settings = InversionSettings.resolve(
            survey, self.initial, representation, loss=loss, regularization=regularization,
            optimizer=optimizer, lr=lr,
            shots_per_iteration=shots_per_iteration, shot_order=shot_order,
            frequency_schedule=frequency_schedule, bounds=bounds, seed=seed,
            representation_options=representation_options, compile=compile,
            engine_options=engine_options, wavelet=wavelet, wavelet_every=wavelet_every,
        )
        observed, live = check_gathers(  # an estimate replaces the survey's wavelet
            observed, survey, where="CRFWIProblem", wavelet=self._settings.wavelet != "estimate")
        self._observed = torch.from_numpy(observed)  # zero at missing traces
        self._live = None if live is None else torch.from_numpy(live)  # (shot, receiver)
        self.water_mask = check_water_mask(water_mask, self.initial)
        self.representation = make_representation(
            representation,
            np.asarray(initial, dtype=np.float32),
            vmin=self.bounds[0],
            vmax=self.bounds[1],
            seed=self.seed,
            water_mask=self.water_mask,
            **self.representation_options,
        )
        self._compiled: torch.nn.Module | None = None
        self._regularizer = None
        if self._settings.regularization:
            self._regularizer = Regularizer(
                self._settings.regularization, grid.spacing, grid.shape,
                float(np.mean(grid.values, dtype=np.float64)),
                free=None if self.water_mask is None else ~self.water_mask,
            )

        # Physics: vmax = the upper bound keeps the time step stable for any model.
        self.operator = WaveOperator(survey, initial, vmax=self.bounds[1], **self.engine_options)
        # A memory_limit too small for one iteration's tapes: refused now, naming the sizes.
        self.operator.propagator().memory_plan(self.shots_per_iteration or survey.n_shots)

        self.lr = self._settings.learning_rate(self.representation)
        self.optimizer = self._settings.make_optimizer(self.representation.parameters(), self.lr)

        self._filtered: dict[float | None, torch.Tensor] = {None: self._observed}
        self._rng = np.random.default_rng(self.seed)
        self.iteration = 0
        self._written: set[Path] = set()  # checkpoints this problem wrote (may overwrite)
        self._hashes: dict[str, str] | None = None  # of the data, once a checkpoint needs them
        self._history: dict[str, list] = {"loss": [], "time": []}  # floats; wavelets: lists
        if self.frequency_schedule:
            self._history["cutoff"] = []
        if self._regularizer is not None:  # "loss" is then the misfit plus these, weighted
            self._history["misfit"] = []
            for term in self._regularizer.terms:
                self._history[f"reg_{term.kind}"] = []
        if self.wavelet == "estimate":
            self._history.update({key: [] for key in _WAVELET_KEYS})
        self._initial_metrics = self._metrics_of(np.asarray(initial))

    # -- the resolved options, read-only -------------------------------------------------------
    @property
    def representation_name(self) -> str:
        return self._settings.representation_name

    @property
    def representation_options(self) -> dict[str, Any]:
        return self._settings.representation_options

    @property
    def loss_name(self) -> str:
        return self._settings.loss_name

    @property
    def regularization(self) -> dict[str, dict[str, float]]:
        """``{kind: {"weight": w, option: value}}``, defaults filled in; empty: none."""
        return {t.kind: t.as_dict() for t in self._settings.regularization}

    @property
    def optimizer_name(self) -> str:
        return self._settings.optimizer_name

    @property
    def bounds(self) -> tuple[float, float]:
        """``(vmin, vmax)``, m/s."""
        return self._settings.bounds

    @property
    def shots_per_iteration(self) -> int | None:
        """Shots per mini-batch; None: all."""
        return self._settings.shots_per_iteration

    @property
    def shot_order(self) -> str:
        return self._settings.shot_order

    @property
    def frequency_schedule(self) -> list[tuple[float | None, int]]:
        """``[(cutoff_hz or None, iterations), ...]``; empty: full band."""
        return list(self._settings.frequency_schedule)

    @property
    def seed(self) -> int:
        return self._settings.seed

    @property
    def compile(self) -> bool:
        return self._settings.compile

    @property
    def engine_options(self) -> dict[str, Any]:
        return self._settings.engine_options

    @property
    def wavelet(self) -> str:
        """``"survey"`` or ``"estimate"`` (see :meth:`current_wavelet` for the source in use)."""
        return self._settings.wavelet

    @property
    def wavelet_every(self) -> int | None:
        return self._settings.wavelet_every

    # -- state -----------------------------------------------------------------------------
    def current_model(self) -> xr.DataArray:
        """The representation's velocity now: xr.DataArray on the initial grid's dims, m/s."""
        with torch.no_grad():
            vp = self.representation().detach().cpu().numpy()
        return xr.DataArray(
            vp.astype(np.float32, copy=False), dims=self.initial.dims, coords=self.initial.coords,
            attrs={"units": "m/s"}, name="vp",
        )

    def current_wavelet(self) -> np.ndarray:
        """The source modelled now (time,) on the survey's recording axis: the survey's, or
        the latest estimate."""
        survey = self.operator.survey
        return survey.source_wavelet(survey.time)

    def _estimates_wavelet(self, iteration: int) -> bool:
        """Whether the wavelet is re-estimated before ``iteration`` (0-based)."""
        if self.wavelet != "estimate":
            return False
        made = self._history["wavelet_iteration"]
        if made and made[-1] == iteration:  # already, before a failed or interrupted step
            return False
        stage_starts = np.cumsum([0] + [n for _, n in self.frequency_schedule])[:-1]
        every = self.wavelet_every
        return (iteration == 0 or iteration in stage_starts
                or (every is not None and iteration % every == 0))

    def _estimate_wavelet(self, iteration: int) -> None:
        """Estimate the source in the current model; model with it from now on."""
        engine = {k: v for k, v in self.engine_options.items() if k != "client"}
        observed = self._observed.numpy()
        if self._live is not None:  # missing traces NaN again: the estimate leaves them out
            observed = np.where(self._live.numpy()[:, None, :], observed, np.nan)
        wavelet = estimate_wavelet(observed, self.current_model(), self.survey,
                                   vmax=self.bounds[1], **engine)
        self._history["wavelet_iteration"].append(iteration)
        self._history["wavelet"].append(wavelet.tolist())
        self._use_wavelet(wavelet)

    def _use_wavelet(self, wavelet: np.ndarray) -> None:
        # The source is part of the engine's survey: a new operator (its Devito kernels are
        # cached by geometry, so nothing compiles again).
        self.operator = WaveOperator(dataclasses.replace(self.survey, wavelet=wavelet),
                                     self.initial, vmax=self.bounds[1], **self.engine_options)

    def _metrics_of(self, vp: np.ndarray) -> dict[str, float]:
        if self.true_model is None:
            return {}
        return _metrics.all_metrics(vp, np.asarray(self.true_model))

    def cutoff(self, iteration: int) -> float | None:
        """Low-pass cutoff (Hz) of an iteration (0-based), or None for the full band."""
        done = 0
        schedule = self._settings.frequency_schedule
        for cutoff, n in schedule:
            done += n
            if iteration < done:
                return cutoff
        return schedule[-1][0] if schedule else None

    def _observed_at(self, cutoff: float | None) -> torch.Tensor:
        if cutoff not in self._filtered:
            self._filtered[cutoff] = butterworth(self._observed, cutoff, self.survey.dt)
        return self._filtered[cutoff]

    def _draw_shots(self) -> list[int] | None:
        k, n = self.shots_per_iteration, self.survey.n_shots
        if k is None or k == n:
            return None
        if self.shot_order == "random":
            return sorted(int(s) for s in self._rng.choice(n, size=k, replace=False))
        # Positions k*it .. k*it + k - 1 of the concatenated per-pass permutations.
        first = k * self.iteration
        return sorted(int(self._pass_order(p // n)[p % n]) for p in range(first, first + k))

    def _pass_order(self, index: int) -> np.ndarray:
        """The shot permutation of pass ``index`` (shot_order="epoch"), from seed and index."""
        return np.random.default_rng([self.seed, index]).permutation(self.survey.n_shots)

    def settings(self) -> dict[str, Any]:
        """The problem's settings, JSON-able (also the result's attrs)."""
        schedule = [[c, n] for c, n in self.frequency_schedule]
        return {
            "representation": self.representation_name,
            "representation_options": json.dumps(jsonable(self.representation_options)),
            "loss": self.loss_name,
            "regularization": json.dumps(self.regularization, sort_keys=True),
            "optimizer": self.optimizer_name,
            "lr": self.lr,
            "shots_per_iteration": self.shots_per_iteration or self.survey.n_shots,
            "shot_order": self.shot_order,
            "frequency_schedule": json.dumps(schedule),
            "bounds": [float(self.bounds[0]), float(self.bounds[1])],
            "water_cells": int(0 if self.water_mask is None else self.water_mask.sum()),
            "seed": self.seed,
            "compile": self.compile,
            # Every engine setting, defaults included (the Dask client is a connection, not a
            # setting); vmax is bounds[1].
            "engine_options": json.dumps(jsonable(self.operator.settings.as_dict())),
            "wavelet": self.wavelet,
            "wavelet_every": self.wavelet_every or 0,  # 0: at stage starts only
            "n_shots": self.survey.n_shots,
            "n_receivers": self.survey.n_receivers,
            "f0": self.survey.f0,
            "dt": self.survey.dt,
            "t_max": self.survey.t_max,
        }

    def __getstate__(self) -> dict[str, Any]:
        # A compiled module is a cache of generated code: rebuilt on the next iteration.
        return self.__dict__ | {"_compiled": None}

    # -- checkpoints -------------------------------------------------------------------------
    def _content_hashes(self) -> dict[str, str]:
        """Hashes of the arrays that define the problem (checkpoint.HASHED), computed once."""
        if self._hashes is None:
            survey, initial = self.survey, self.initial
            self._hashes = {
                "observed_data": content_hash(  # the live mask only when there is one
                    self._observed.numpy(), *([] if self._live is None else [self._live.numpy()])),
                "initial_model": content_hash(
                    np.asarray(initial), *initial.dims,
                    *(np.asarray(initial[d]) for d in initial.dims if d in initial.coords)),
                "water_mask": content_hash(self.water_mask),
                "survey": content_hash(
                    survey.source_positions, survey.receiver_positions,
                    survey.source_wavelet(survey.time), survey.f0, survey.t_max, survey.dt),
            }
        return self._hashes

    def _checkpointed(self, callbacks: Sequence) -> dict[str, Any]:
        """What a checkpoint of this problem holds besides the iteration and history."""
        return {
            "fingerprint": fingerprint_of(self.settings(), self.initial.shape,
                                          self._content_hashes()),
            "representation": self.representation, "optimizer": self.optimizer,
            "rng": self._rng, "callbacks": callbacks,
        }

    def save_checkpoint(self, path: str | os.PathLike, callbacks: Sequence = ()) -> Path:
        """Write the state to ``path`` atomically (the file it replaces stays as ``*.prev.pt``)."""
        path = save_state(path, iteration=self.iteration, history=self._history,
                          **self._checkpointed(callbacks))
        self._written.add(Path(path).resolve())
        return path

    def load_checkpoint(self, path: str | os.PathLike, callbacks: Sequence = ()) -> None:
        """Restore a state written by :meth:`save_checkpoint` for this same problem.

        A checkpoint of another problem (settings, observed data, survey, initial model,
        water mask) is refused with a ``ValueError`` listing the differing fields.
        """
        self.iteration, self._history = load_state(path, **self._checkpointed(callbacks))
        if self.wavelet == "estimate":
            for key in _WAVELET_KEYS:  # absent from a checkpoint older than the option
                self._history.setdefault(key, [])
            if self._history["wavelet"]:
                self._use_wavelet(np.asarray(self._history["wavelet"][-1]))

    # -- the loop ----------------------------------------------------------------------------
    def _step(self, shots: list[int] | None, cutoff: float | None) -> dict[str, float]:
        """One optimiser step; the loss it started from ("loss") and, with a
        regularisation, its parts ("misfit" and "reg_<kind>", unweighted)."""
        observed, live = self._observed_at(cutoff), self._live
        if shots is not None:
            observed, live = observed[shots], None if live is None else live[shots]
        iteration = self.iteration

        if self.compile and self._compiled is None:
            self._compiled = torch.compile(self.representation)
        forward = self.representation if self._compiled is None else self._compiled
        parts: dict[str, float] = {}  # of the first evaluation (L-BFGS makes several)

        def closure() -> torch.Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            vp = forward()
            pred = self.operator(vp, shots=shots)
            if cutoff is not None:
                pred = butterworth(pred, cutoff, self.survey.dt)
            loss = self._settings.loss_function(*live_traces(pred, observed.to(pred.dtype),
                                                             live))
            if not torch.is_tensor(loss) or loss.numel() != 1:
                raise TypeError(f"the loss must return a scalar Tensor, got {loss!r}")
            if not loss.requires_grad:
                raise TypeError(
                    f"the loss {self.loss_name!r} returned a Tensor without a gradient "
                    "(requires_grad=False): compute it from pred with torch operations, "
                    "without .detach(), .item(), numpy or torch.no_grad()")
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss is {float(loss.detach())} at iteration {iteration}"
                )
            if self._regularizer is not None:
                terms = self._regularizer(vp)
                if not parts:
                    parts["misfit"] = float(loss.detach())
                    parts.update((f"reg_{k}", float(v.detach())) for k, v in terms.items())
                loss = loss + sum(t.weight * terms[t.kind] for t in self._regularizer.terms)
            loss.backward()
            for p in self.representation.parameters():
                if p.grad is not None and not torch.isfinite(p.grad).all():
                    raise FloatingPointError(
                        f"the gradient holds NaN or Inf at iteration {iteration} "
                        f"(loss {float(loss.detach()):.6g})"
                    )
            return loss

        return {"loss": float(self.optimizer.step(closure).detach())} | parts

    def solve(
        self,
        iterations: int,
        *,
        callback=None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 10,
        resume: bool = False,
        progress: bool = True,
    ) -> xr.Dataset:
        """Run the inversion up to ``iterations`` iterations in total.

        A problem that already ran ``k`` iterations (an earlier ``solve``, or a checkpoint
        with ``resume=True``) runs ``iterations - k`` more; calling ``solve`` again continues.

        Parameters
        ----------
        iterations : int
            Total number of iterations, >= 1.
        callback : callable or list of callables, optional
            ``callback(problem, iteration, loss) -> None`` after each optimiser step
            (``iteration`` 0-based, ``loss`` the loss that step started from); the model
            is then ``problem.current_model()``. A callback with a ``dataset()`` method
            returning an ``xr.Dataset`` has it merged into the result; one with
            ``state_dict()`` / ``load_state_dict()`` is checkpointed with the problem.
        checkpoint_dir : path, optional
            Folder for ``crfwi_checkpoint.pt``, written atomically every
            ``checkpoint_every`` iterations, at the end, and before a non-finite loss is
            reported. It is created and checked writable before the first iteration, and
            locked while ``solve`` runs: a second ``solve`` into it is refused at once.
        checkpoint_every : int
            Iterations between checkpoints.
        resume : bool
            Continue from the checkpoint in ``checkpoint_dir`` (if there is one). It must
            have been written by the same problem: other settings, observed data, survey,
            initial model or water mask are refused, listing the differences; a checkpoint
            older than these checks is resumed with a warning naming what it cannot check.
        progress : bool
            A tqdm bar with the loss (and SSIM with a true model).

        Returns
        -------
        xr.Dataset
            "vp" (x, z) m/s, the final model; "vp_initial" (x, z); "loss" (iteration), the
            misfit each iteration started from (with a regularisation: the misfit plus the
            weighted terms, and apart "misfit" and each term unweighted "reg_<kind>", e.g.
            "reg_tv"); "time" (iteration), wall seconds; with a true
            model "mse", "rmse", "psnr", "ssim" (iteration) after each step; with a
            schedule "cutoff" (iteration), Hz (NaN: full band); with ``wavelet="estimate"``
            "wavelet" (wavelet_iteration, wavelet_time), each estimate and the iteration it
            was made before (wavelet_time: the recording axis, s). Attrs: :meth:`settings`,
            "iterations", and "initial_<metric>" with a true model.

        Raises
        ------
        FloatingPointError
            When the loss or gradient becomes NaN/Inf; the problem (and the checkpoint)
            keep the last good state.
        FileExistsError
            ``checkpoint_dir`` holds another run's checkpoint and ``resume`` is False.
        devito_crfwi.io.atomic.FolderInUseError
            Another ``solve`` holds ``checkpoint_dir`` (its pid is named).
        """
        if not is_whole(iterations) or iterations < 1:
            raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}")
        iterations = int(iterations)
        if not is_whole(checkpoint_every) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be an integer >= 1, got {checkpoint_every!r}")
        callbacks = [] if callback is None else (
            list(callback) if isinstance(callback, list | tuple) else [callback]
        )
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callback must be callable, got {type(cb).__name__}")
        if not isinstance(resume, bool):
            raise TypeError(f"resume must be True or False, got {resume!r}")
        path = None if checkpoint_dir is None else checkpoint_path(checkpoint_dir)
        lock = contextlib.nullcontext() if path is None else locked(
            path.parent / LOCK_NAME, f"checkpoint_dir {path.parent}")
        with lock:
            return self._solve(iterations, callbacks, path, checkpoint_every, resume, progress)

    def _solve(self, iterations: int, callbacks: list, path: Path | None,
               checkpoint_every: int, resume: bool, progress: bool) -> xr.Dataset:
        if resume:
            if path is None:
                raise ValueError("resume=True needs checkpoint_dir")
            if path.exists():
                self.load_checkpoint(path, callbacks)
        elif path is not None and path.exists() and path.resolve() not in self._written:
            raise FileExistsError(
                f"{path} holds the checkpoint of an earlier run: pass resume=True to continue "
                "it, or give another checkpoint_dir (it is never overwritten)"
            )
        if self.iteration > iterations:
            raise ValueError(
                f"iterations = {iterations} is below the {self.iteration} iterations already run"
            )

        bar = tqdm(total=iterations, initial=self.iteration, desc="CR-FWI", unit="it",
                   disable=not progress)
        try:
            while self.iteration < iterations:
                self._iterate(callbacks, bar, path)
                if path is not None and (
                    self.iteration % int(checkpoint_every) == 0 or self.iteration == iterations
                ):
                    self.save_checkpoint(path, callbacks)
        except KeyboardInterrupt:
            # Ctrl-C: keep every finished iteration; resume=True continues from here.
            if path is not None:
                self.save_checkpoint(path, callbacks)
                bar.write(f"interrupted: {self.iteration} iterations saved in {path}")
            raise
        finally:
            bar.close()
        if path is not None and not path.exists():
            self.save_checkpoint(path, callbacks)
        return self._result(callbacks)

    def _iterate(self, callbacks, bar, path: Path | None) -> None:
        it = self.iteration
        start = time.perf_counter()
        rng_state = copy.deepcopy(self._rng.bit_generator.state)
        params = copy.deepcopy(self.representation.state_dict())
        opt_state = (
            copy.deepcopy(self.optimizer.state_dict()) if self.optimizer_name == "lbfgs" else None
        )
        if self._estimates_wavelet(it):
            self._estimate_wavelet(it)
        shots = self._draw_shots()
        cutoff = self.cutoff(it)
        try:
            parts = self._step(shots, cutoff)
            loss = parts.pop("loss")
            if not math.isfinite(loss):
                raise FloatingPointError(f"the loss is {loss} at iteration {it}")
        except (FloatingPointError, KeyboardInterrupt) as err:
            # Back to the state before this iteration: it is the last good one.
            self._rng.bit_generator.state = rng_state
            self.representation.load_state_dict(params)
            if opt_state is not None:
                self.optimizer.load_state_dict(opt_state)
            if isinstance(err, KeyboardInterrupt):
                raise  # solve() saves the restored state
            where = ""
            if path is not None:
                self.save_checkpoint(path, callbacks)
                where = f"; the last good state (after {it} iterations) is saved in {path}"
            raise FloatingPointError(f"{err}: stopped{where}") from None
        scores = self._metrics_of(np.asarray(self.current_model()))
        self.iteration += 1
        self._history["loss"].append(loss)
        self._history["time"].append(time.perf_counter() - start)
        if "cutoff" in self._history:
            self._history["cutoff"].append(math.nan if cutoff is None else cutoff)
        for name, value in parts.items():
            self._history[name].append(value)
        for name, value in scores.items():
            self._history.setdefault(name, []).append(value)
        postfix = {"loss": f"{loss:.4g}"}
        if "ssim" in scores:
            postfix["ssim"] = f"{scores['ssim']:.3f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        for cb in callbacks:
            cb(self, it, loss)

    def _result(self, callbacks) -> xr.Dataset:
        n = self.iteration
        data = {
            "vp": self.current_model(),
            "vp_initial": xr.DataArray(
                np.asarray(self.initial, dtype=np.float32), dims=self.initial.dims,
                coords=self.initial.coords, attrs={"units": "m/s"},
            ),
        }
        units = {"loss": "1", "misfit": "1", "time": "s", "cutoff": "Hz", "mse": "(m/s)^2",
                 "rmse": "m/s", "psnr": "dB", "ssim": "1"}
        units |= {name: "1" for name in self._history if name.startswith("reg_")}
        for name, values in self._history.items():
            if name in _WAVELET_KEYS:
                continue
            data[name] = xr.DataArray(
                np.asarray(values, dtype=np.float64), dims=("iteration",),
                attrs={"units": units.get(name, "")},
            )
        if self.wavelet == "estimate":
            data["wavelet"] = xr.DataArray(
                np.asarray(self._history["wavelet"], dtype=np.float64).reshape(
                    -1, self.survey.nt),
                dims=("wavelet_iteration", "wavelet_time"),  # "time" is the wall seconds
                coords={"wavelet_iteration": self._history["wavelet_iteration"],
                        "wavelet_time": self.survey.time},
                attrs={"units": "a.u.", "description": "source estimates, each made before "
                       "iteration wavelet_iteration"})
        attrs = self.settings() | {"iterations": n}
        for name, value in self._initial_metrics.items():
            attrs[f"initial_{name}"] = value
        result = xr.Dataset(data, coords={"iteration": np.arange(n)}, attrs=attrs)
        for cb in callbacks:
            if hasattr(cb, "dataset"):
                extra = cb.dataset()
                if not isinstance(extra, xr.Dataset):
                    raise TypeError(
                        f"callback {cb!r}: dataset() must return an xr.Dataset, got "
                        f"{type(extra).__name__}"
                    )
                result = xr.merge([result, extra], join="outer", compat="no_conflicts",
                                  combine_attrs="drop_conflicts")
        result.attrs = attrs | {k: v for k, v in result.attrs.items() if k not in attrs}
        return result
