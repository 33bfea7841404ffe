"""Where the shots run: serially in this process, or in parallel on a Dask cluster.

An executor runs the three shot loops of the bridge — forward modelling, the
adjoint-state gradient and Born modelling — for one propagator and one dtype:

* :class:`SerialExecutor` (the default) runs every shot here, one after another. The
  forward pass of a differentiable call records the wavefield tapes in this process,
  so a forward plus a backward cost **one forward and one adjoint** per shot.
* :class:`DaskExecutor` runs batches of shots (one per worker thread) on a
  ``dask.distributed.Client``. Each worker builds its :class:`~devito_crfwi.physics.Propagator`
  (and its Devito operators) once per :class:`PropagatorSpec` and keeps it in process
  memory. The model goes to the cluster once per call; the backward reuses the
  forward's copy. Wavefield tapes cannot leave a worker, and a task must be pure for
  Dask to retry it after a worker dies, so the backward task re-runs the forward with
  tapes and then the adjoint: **two forwards and one adjoint** per shot in all (the
  forward task does not store tapes). Per-worker gradients are summed here. A shot whose
  adjoint source the subsampled tape would alias is recorded with every step stored at once
  (so does the serial executor where the tapes fit; where they do not, it records such a
  shot a second time).

Born and the adjoint take a leading batch of tangents (..., x, z) or cotangents
(..., shot, time, receiver), as ``torch.func.vmap`` hands them over: one call runs
shots × batch solves on the same propagators (on Dask, one forward per shot for the batch).

Tasks are pure functions of their inputs (spec, model, shots, adjoint source), so when a
worker process dies Dask re-runs its tasks elsewhere (up to
``distributed.scheduler.allowed-failures`` times) and the result is unchanged. For that
the inputs must survive the worker too: the model and the spec travel as small tasks
that return them (:meth:`DaskExecutor.put`), not through ``client.scatter``. Scattered
data has no lineage, and the scheduler's Active Memory Manager drops the extra replicas
of a broadcast within seconds, so a dead worker can take the only copy with it and its
dependants are cancelled, not retried (seen in ``tests/bridge/test_dask.py``). A task's output
is recomputed from the graph instead; other workers fetch it from the first holder.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..physics import EngineSettings, Propagator, Survey, operators_built

# Propagators one worker process keeps (one per geometry, settings and dtype).
WORKER_CACHE_SIZE = 4


@dataclass(frozen=True, eq=False)
class PropagatorSpec:
    """Everything a process needs to build the same :class:`Propagator`: a picklable value.

    Two specs are equal when their ``key`` (a hash of the model, survey, settings and
    dtype) is; workers cache propagators under it.

    Parameters
    ----------
    model : xr.DataArray (x, z) or (x, y, z), m/s
        The model that fixes the grid and (unless ``vmax`` is set) the time step.
    survey : Survey
    settings : EngineSettings
    dtype : str
        ``"float32"`` or ``"float64"``.
    key : str
        Content hash; use :meth:`create`, which computes it.
    """

    model: object
    survey: Survey
    settings: EngineSettings
    dtype: str
    key: str

    @classmethod
    def create(cls, model, survey: Survey, settings: EngineSettings, dtype) -> PropagatorSpec:
        """A spec for ``Propagator.from_model(model, survey, settings, dtype=dtype)``."""
        dtype = np.dtype(dtype).name
        items = tuple(sorted(settings.as_dict().items()))
        h = hashlib.blake2b(digest_size=16)
        for arr in (np.asarray(model), *(np.asarray(model[d]) for d in model.dims),
                    survey.source_positions, survey.receiver_positions,
                    survey.wavelet if survey.wavelet is not None else np.empty(0)):
            h.update(str((arr.dtype, arr.shape)).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(repr((survey.f0, survey.t_max, survey.dt, items, dtype)).encode())
        return cls(model, survey, settings, dtype, h.hexdigest())

    def __eq__(self, other) -> bool:
        return isinstance(other, PropagatorSpec) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __dask_tokenize__(self) -> str:
        return self.key

    def build(self) -> Propagator:
        """A new propagator for this spec (compiled operators are shared per process)."""
        return Propagator.from_model(self.model, self.survey, self.settings, dtype=self.dtype)


# -- worker side: one propagator per spec, per process -----------------------------------
_ENGINES: OrderedDict[str, tuple[Propagator, threading.Lock]] = OrderedDict()
_ENGINES_LOCK = threading.Lock()


class _WorkerCounter:
    """Propagators built by :func:`worker_propagator` in this process (tests check reuse)."""

    count = 0


def worker_propagator(spec: PropagatorSpec) -> tuple[Propagator, threading.Lock]:
    """This process's propagator for ``spec`` and the lock that serialises its use.

    A propagator owns its Devito Functions, so two threads of one worker must not run
    it at once; run workers with one thread and give Devito the cores (OpenMP) instead.
    """
    with _ENGINES_LOCK:
        if spec.key in _ENGINES:
            _ENGINES.move_to_end(spec.key)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the client has warned already
                _ENGINES[spec.key] = (spec.build(), threading.Lock())
            _WorkerCounter.count += 1
            while len(_ENGINES) > WORKER_CACHE_SIZE:
                _ENGINES.popitem(last=False)
        return _ENGINES[spec.key]


def worker_stats() -> dict:
    """Propagators and Devito operators built in this process so far."""
    return {"propagators": _WorkerCounter.count, "operators": operators_built()}


def _identity(value):
    return value


def forward_shots(spec: PropagatorSpec, vp: np.ndarray, shots: tuple) -> np.ndarray:
    """Task: data (shot, time, receiver) of ``shots`` for model ``vp`` (m/s)."""
    propagator, lock = worker_propagator(spec)
    with lock:
        return propagator.forward(vp, shots)


def jacobian_adjoint_shots(spec: PropagatorSpec, vp: np.ndarray, shots: tuple,
                   adjoint_source: np.ndarray) -> np.ndarray:
    """Task: gradient (..., x, z) w.r.t. vp of ``sum(adjoint_source * data(shots))``.

    ``adjoint_source`` is (..., shot, time, receiver), one gradient per leading index.
    Records one shot at a time, so a worker holds one shot's tape, whatever the batch. The
    adjoint source is known before the forward here, so a shot that the subsampled tape
    would alias (see ``Propagator.jacobian_adjoint``) is recorded with every step stored
    straight away.
    """
    propagator, lock = worker_propagator(spec)
    grad = np.zeros(adjoint_source.shape[:-3] + propagator.grid.shape)
    with lock:
        for i, shot in enumerate(shots):
            rows = adjoint_source[..., i:i + 1, :, :]
            engine = propagator
            if propagator.needs_exact_storage(rows).any():
                engine = propagator.exact()
            _, tapes = engine.record(vp, [shot])
            grad += engine.jacobian_adjoint(vp, tapes, rows)
    return grad


def born_shots(spec: PropagatorSpec, vp: np.ndarray, dvp: np.ndarray,
               shots: tuple) -> np.ndarray:
    """Task: Born data J(vp) dvp (..., shot, time, receiver) of ``shots``, dvp (..., x, z)."""
    propagator, lock = worker_propagator(spec)
    with lock:
        return propagator.born(vp, dvp, shots)


# -- executors ---------------------------------------------------------------------------
class SerialExecutor:
    """Every shot in this process; a differentiable forward keeps its tapes for backward."""

    def __init__(self, propagator: Propagator) -> None:
        self.propagator = propagator

    def forward(self, vp: np.ndarray, shots: Sequence[int] | None, record: bool):
        """(data (shot, time, receiver), state for :meth:`gradient` or None)."""
        if record:
            return self.propagator.record(vp, shots)
        return self.propagator.forward(vp, shots), None

    def jacobian_adjoint(self, vp: np.ndarray, state, adjoint_source: np.ndarray) -> np.ndarray:
        """Gradient (..., x, z) w.r.t. vp (m/s) of ``sum(adjoint_source * data)``.

        ``adjoint_source`` (..., shot, time, receiver): one gradient per leading index.
        """
        return self.propagator.jacobian_adjoint(vp, state, adjoint_source)

    def born(self, vp: np.ndarray, dvp: np.ndarray, shots: Sequence[int] | None) -> np.ndarray:
        """Born data (..., shot, time, receiver) for dvp (..., x, z), m/s."""
        return self.propagator.born(vp, dvp, shots)


@dataclass
class DaskState:
    """What a Dask backward needs: the model's future and the shots of the forward."""

    vp: object  # distributed.Future of the model (x, z), m/s
    shots: np.ndarray


class DaskExecutor:
    """Batches of shots on a ``dask.distributed.Client``, one batch per worker thread.

    Parameters
    ----------
    client : distributed.Client
    spec : PropagatorSpec
        What workers build (once each) and cache.
    propagator : Propagator
        The same engine in this process, for validation and sizes.
    """

    def __init__(self, client, spec: PropagatorSpec, propagator: Propagator) -> None:
        self.client = client
        self.spec = spec
        self.propagator = propagator
        self._spec_future = None

    def _batches(self, shots: np.ndarray) -> list[tuple[str | None, tuple]]:
        """(preferred worker, shots) pairs: contiguous batches, one per worker thread.

        Batch ``i`` goes to the ``i``-th worker, so each worker's engine is built (and
        warmed up) once; the preference is loose, so Dask may run it elsewhere.
        """
        slots = [w for w, n in sorted(self.client.nthreads().items()) for _ in range(n)]
        slots = slots or [None]
        parts = np.array_split(shots, min(len(shots), len(slots)))
        return [(w, tuple(int(s) for s in b)) for w, b in zip(slots, parts, strict=False)
                if len(b)]

    def _spec(self):
        # Sent once per executor; recomputed by the scheduler if every holder dies.
        if self._spec_future is None or self._spec_future.status not in ("pending", "finished"):
            self._spec_future = self.put(self.spec)
        return self._spec_future

    def _submit(self, func, *args, worker: str | None = None):
        key = f"crfwi-{func.__name__}-{uuid.uuid4().hex}"
        where = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
        with warnings.catch_warnings():
            # The data in the graph is deliberate: it is what lets Dask recompute a lost input.
            warnings.filterwarnings("ignore", message="Sending large graph")
            return self.client.submit(func, *args, key=key, pure=False, **where)

    def put(self, value):
        """A future of ``value`` that Dask can recompute (unlike ``client.scatter``)."""
        return self._submit(_identity, value)

    def forward(self, vp: np.ndarray, shots: Sequence[int] | None, record: bool):
        """(data (shot, time, receiver), :class:`DaskState` if ``record`` else None)."""
        idx = self.propagator._shots(shots)
        vp_future = self.put(vp)
        spec = self._spec()
        futures = [self._submit(forward_shots, spec, vp_future, batch, worker=w)
                   for w, batch in self._batches(idx)]
        data = np.concatenate(self.client.gather(futures))
        return data, (DaskState(vp_future, idx) if record else None)

    def jacobian_adjoint(self, vp: np.ndarray, state: DaskState, adjoint_source: np.ndarray
                 ) -> np.ndarray:
        """Gradient (..., x, z) w.r.t. vp (m/s) for ``adjoint_source`` (..., shot, time, receiver).

        Re-runs each shot's forward with tapes on a worker, once for the whole batch.
        """
        adjoint_source = np.asarray(adjoint_source)
        expected = (len(state.shots), self.propagator.survey.nt,
                    self.propagator.survey.n_receivers)
        if adjoint_source.shape[-3:] != expected:
            raise ValueError(f"adjoint source must have shape (..., {', '.join(map(str, expected))}"
                             f"), got {adjoint_source.shape}")
        spec = self._spec()
        futures, start = [], 0
        for w, batch in self._batches(state.shots):
            rows = adjoint_source[..., start:start + len(batch), :, :]
            start += len(batch)
            futures.append(self._submit(jacobian_adjoint_shots, spec, state.vp, batch, rows,
                                        worker=w))
        return np.sum(self.client.gather(futures), axis=0)

    def born(self, vp: np.ndarray, dvp: np.ndarray, shots: Sequence[int] | None) -> np.ndarray:
        """Born data (..., shot, time, receiver) for dvp (..., x, z), computed on the workers."""
        idx = self.propagator._shots(shots)
        vp_future, dvp_future = self.put(vp), self.put(np.asarray(dvp))
        spec = self._spec()
        futures = [self._submit(born_shots, spec, vp_future, dvp_future, batch, worker=w)
                   for w, batch in self._batches(idx)]
        return np.concatenate(self.client.gather(futures), axis=-3)


def make_executor(propagator: Propagator, client=None, *, model=None,
                  settings: EngineSettings | None = None):
    """A :class:`SerialExecutor`, or a :class:`DaskExecutor` when ``client`` is given.

    ``model`` and ``settings`` are what built ``propagator`` (``Propagator.from_model``);
    workers rebuild it from them.
    """
    if client is None:
        return SerialExecutor(propagator)
    if not hasattr(client, "scatter") or not hasattr(client, "submit"):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
    spec = PropagatorSpec.create(model, propagator.survey, settings or EngineSettings(),
                                 propagator.dtype)
    return DaskExecutor(client, spec, propagator)
