"""``WaveOperator``: the wave equation on one model grid and survey, as an ``nn.Module``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..io.schema import check_model
from ..physics import EngineSettings, Propagator, Survey
from .autograd import Recording, WaveFunction
from .executors import make_executor


class WaveOperator(torch.nn.Module):
    """Differentiable modelling ``vp (x, [y,] z) [m/s] -> data (shot, time, receiver)``.

    Backward is the adjoint-state gradient; ``torch.func.jvp`` gives Born data; ``vmap``,
    ``jacfwd`` and ``jacrev`` batch tangents and cotangents into one executor call (see
    :mod:`.autograd`). Devito operators are compiled once per geometry and reused across
    calls, shots and dtypes. ``vp`` may live on any device (it is copied to the host once
    per call); outputs and gradients come back on its device and dtype.

    Parameters
    ----------
    survey : Survey
    vp : xr.DataArray (x, z) or (x, y, z), m/s
        A model on the target grid (checked with
        :func:`~devito_crfwi.io.schema.check_model`): it fixes the grid and (unless
        ``vmax`` is given) the highest velocity, hence the time step and the C-PML's damping.
    space_order : int
        Order of the spatial stencil (default 8).
    boundary_width : int, optional
        C-PML width in cells; default from ``f0`` and the maximum velocity.
    free_surface : bool
        Pressure zero on the model's top row (``z = z0``) instead of an absorbing top.

    The output is pressure with the wavelet's polarity: a positive source sample raises the
    pressure around it (Deepwave's convention is the opposite sign).
    vmax : float, m/s, optional
        Highest velocity the inversion may reach (sets the stable time step).
    checkpoints, memory_limit, subsample :
        Gradient memory mode, see :class:`~devito_crfwi.physics.EngineSettings`.
    client : dask.distributed.Client, optional
        Run shots in parallel on this Dask cluster (see :mod:`.executors` and
        ``docs/cluster.md``); default: serially in this process. On Dask a gradient costs
        about two forwards and one adjoint per shot instead of one forward and one adjoint.

    Examples
    --------
    >>> op = WaveOperator(survey, vp_true)
    >>> data = op(torch.tensor(vp0.values, requires_grad=True), shots=[0, 3])
    """

    def __init__(self, survey: Survey, vp, *, space_order: int = 8,
                 boundary_width: int | None = None, free_surface: bool = False,
                 vmax: float | None = None, dt: float | None = None,
                 checkpoints: int | None = None, memory_limit: int | None = None,
                 subsample: int | str = "auto", client=None) -> None:
        super().__init__()
        check_model(vp, where="WaveOperator")
        self.survey = survey
        self.settings = EngineSettings(
            space_order=space_order, boundary_width=boundary_width,
            free_surface=free_surface, vmax=vmax, dt=dt, checkpoints=checkpoints,
            memory_limit=memory_limit, subsample=subsample,
        )
        self._model = vp
        self.client = client
        self._propagators: dict[np.dtype, Propagator] = {}
        self._executors: dict[np.dtype, object] = {}
        self.executor(np.float32)  # validate the geometry and client now, not at the first call

    def propagator(self, dtype=np.float32) -> Propagator:
        """The engine for ``dtype`` (float32 or float64), built on first use."""
        dtype = np.dtype(dtype)
        if dtype not in self._propagators:
            self._propagators[dtype] = Propagator.from_model(
                self._model, self.survey, self.settings, dtype=dtype
            )
        return self._propagators[dtype]

    def executor(self, dtype=np.float32):
        """Where the shots of ``dtype`` run: serially here, or on ``client``'s workers."""
        dtype = np.dtype(dtype)
        if dtype not in self._executors:
            self._executors[dtype] = make_executor(
                self.propagator(dtype), self.client, model=self._model, settings=self.settings
            )
        return self._executors[dtype]

    @property
    def shape(self) -> tuple[int, ...]:
        """Model shape (nx, nz) or (nx, ny, nz)."""
        return self.propagator().grid.shape

    @property
    def time(self) -> np.ndarray:
        """Recording time axis, s."""
        return self.survey.time

    def forward(self, vp: torch.Tensor, shots: Sequence[int] | None = None) -> torch.Tensor:
        """Data (shot, time, receiver) for ``vp`` (x, [y,] z) in m/s; ``shots`` selects some
        (integer indices, see :meth:`~devito_crfwi.physics.Survey.shot_indices`)."""
        if not isinstance(vp, torch.Tensor):
            raise TypeError(f"vp must be a torch.Tensor (x, [y,] z) in m/s, got "
                            f"{type(vp).__name__}")
        if vp.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"vp must be float32 or float64, got {vp.dtype}")
        dtype = np.float64 if vp.dtype == torch.float64 else np.float32
        propagator = self.propagator(dtype)
        if tuple(vp.shape) != propagator.grid.shape:
            raise ValueError(
                f"vp must have the model's shape {propagator.grid.shape}, got {tuple(vp.shape)}"
            )
        if shots is not None:
            shots = tuple(self.survey.shot_indices(shots, where="WaveOperator").tolist())
        recording = Recording() if torch.is_grad_enabled() and vp.requires_grad else None
        return WaveFunction.apply(vp, self.executor(dtype), shots, recording)
