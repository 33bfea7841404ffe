"""The engine benchmark's problems (bench_engine.py): grids, models, acquisition, threads.

Shared by the workers and the report; no engine is imported here.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "data" / "models"
MARMOUSI = MODELS / "marmousi.npy"
PROTOCOL = REPO / "bench" / "protocol" / "protocol.toml"  # the paper-protocol epoch's set-up
MIB = 2.0**20


def npts(shape) -> int:
    return int(np.prod(shape))


# A user of a 2-core machine sets 2 threads; BENCH_THREADS changes it (reported as such).
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
# Variables that change how OpenMP threads wait; the workers run without them (defaults).
OMP_WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


# -- the problem ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A shot record: cells, spacing (m), record length and interval (s), f0 (Hz).

    2-D (x, z) by default; ``ny`` makes it 3-D (x, y, z), with ``n_receivers`` then the
    (n_x, n_y) areal grid. ``n_shots`` and ``free_surface`` describe the paper-protocol
    epoch (:func:`epoch_problem`), whose acquisition comes from ``protocol.toml``.
    """

    nx: int = 600
    nz: int = 200
    spacing: float = 10.0
    t_max: float = 2.3
    rec_dt: float = 0.004
    f0: float = 10.0
    n_receivers: int | tuple[int, int] = 300
    space_order: int = 8
    pml_width: int = 20  # Deepwave's default; our "same work" C-PML width
    checkpoints: int = 40
    marmousi: bool = True  # a Marmousi window where the shared file has one
    ny: int | None = None
    n_shots: int = 1
    free_surface: bool = False  # top face: free surface (else absorbing like the others)

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells (x, z) or (x, y, z)."""
        return (self.nx, self.nz) if self.ny is None else (self.nx, self.ny, self.nz)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def points(self) -> int:
        return npts(self.shape)

    @property
    def receiver_counts(self) -> tuple[int, ...]:
        """Receivers along each horizontal axis (x[, y])."""
        return tuple(np.atleast_1d(self.n_receivers).tolist())

    @property
    def n_receivers_total(self) -> int:
        return npts(self.receiver_counts)

    @property
    def samples(self) -> int:
        """Recorded samples 0, rec_dt, ..., t_max."""
        return int(round(self.t_max / self.rec_dt)) + 1


FULL = Problem()
QUICK = Problem(nx=240, nz=120, t_max=0.6, n_receivers=100, checkpoints=10)
# The paper's 3-D set-up (160 x 160 x 60 cells at 50 m, 12 Hz, 2.5 s) narrowed to 100 x 100
# in (x, y): at 160 x 160 Deepwave's same-work gradient stores more than this 24 GiB machine
# holds (``deepwave_probe`` reports its own estimate) and a round would take ~30 minutes.
PAPER_3D = (160, 160, 60)
FULL_3D = Problem(nx=100, ny=100, nz=60, spacing=50.0, t_max=2.5, f0=12.0,
                  n_receivers=(40, 40), marmousi=False)
QUICK_3D = Problem(nx=30, ny=30, nz=20, spacing=50.0, t_max=0.4, f0=12.0,
                   n_receivers=(10, 10), marmousi=False)
SWEEP_SIZES = ((200, 100), (400, 150), (600, 200), (1000, 300), (1601, 401))
SWEEP_T_MAX = 1.0  # s; the sweep's record (forward only, layered model at every size)


def sweep_problem(nx: int, nz: int) -> Problem:
    return Problem(nx=nx, nz=nz, t_max=SWEEP_T_MAX, n_receivers=min(300, nx // 2),
                   marmousi=False)


# The epoch's smoke run: 3 shots (columns 20, 140, 260) and 0.38 s of record (200 samples).
QUICK_EPOCH = dict(n_shots=3, shot_step_columns=120, t_max=0.38)


@functools.cache
def protocol() -> dict:
    """``bench/protocol/protocol.toml`` as read (its data_dir resolved to a Path)."""
    with open(PROTOCOL, "rb") as f:
        config = tomllib.load(f)
    config["benchmark"]["data_dir"] = (PROTOCOL.parent / config["benchmark"]["data_dir"]).resolve()
    return config


def epoch_spec(quick: bool) -> dict:
    """The protocol's Marmousi table (``[models.marmousi]``: grid, shots, receivers, record),
    narrowed by :data:`QUICK_EPOCH` for the smoke run."""
    spec = dict(protocol()["models"]["marmousi"])
    return spec | QUICK_EPOCH if quick else spec


def epoch_problem(quick: bool) -> Problem:
    """The paper-protocol epoch as a :class:`Problem` (what the report states): the protocol's
    grid, record, shots and receivers (every column), free surface from its engine table."""
    spec = epoch_spec(quick)
    nx, nz = spec["shape"]
    return Problem(nx=nx, nz=nz, spacing=spec["spacing"], t_max=spec["t_max"],
                   rec_dt=spec["dt"], f0=spec["f0"], n_receivers=spec.get("n_receivers", nx),
                   n_shots=spec["n_shots"],
                   free_surface=protocol()["benchmark"]["engine"]["free_surface"])


def epoch_data() -> Path | None:
    """The shared Marmousi file the protocol resamples (``io.load_model``'s choice: the
    SEG-Y, else the .npy, beside manifest.json), or None where it is absent."""
    folder = protocol()["benchmark"]["data_dir"]
    found = [folder / f"marmousi{ext}" for ext in (".sgy", ".npy")
             if (folder / f"marmousi{ext}").is_file()]
    return found[0] if found and (folder / "manifest.json").is_file() else None


def problem(case: str, quick: bool) -> Problem:
    """The 2-D, 3-D or paper-protocol epoch problem ("2d", "3d", "epoch"), full or quick."""
    if case == "epoch":
        return epoch_problem(quick)
    return {("2d", False): FULL, ("2d", True): QUICK, ("3d", False): FULL_3D,
            ("3d", True): QUICK_3D}[case, quick]


def velocity(p: Problem):
    """(x, [y,] z) model in m/s (float32) and a description: a Marmousi window if wanted
    and present (2-D), else a layered 1500-4500 m/s model undulating along x (and y)."""
    if p.marmousi and p.ndim == 2 and MARMOUSI.exists():
        full = np.load(MARMOUSI)
        if full.shape[0] >= p.nx and full.shape[1] >= p.nz:
            about = (f"Marmousi window [0:{p.nx}, 0:{p.nz}] of ../shared/data/models/"
                     f"marmousi.npy (its 15 m cells re-labelled {p.spacing:g} m)")
            return np.ascontiguousarray(full[: p.nx, : p.nz], dtype=np.float32), about
    *across, z = np.meshgrid(*(np.arange(n) for n in p.shape), indexing="ij")
    depth = z / (p.nz - 1) + sum(0.08 * np.sin(2 * np.pi * a / n)
                                 for a, n in zip(across, p.shape[:-1], strict=True))
    values = 1500.0 + 3000.0 * np.clip(depth, 0.0, 1.0) ** 1.5
    along = "x" if p.ndim == 2 else "x and y"
    return (values.astype(np.float32),
            f"layered model 1500-4500 m/s (gently undulating along {along})")


def geometry(p: Problem):
    """Source and receiver cells (ix, [iy,] iz), the rule of ``Survey.surface``: the shot
    at the centre, receivers evenly across the top (an areal grid in 3-D, x outer), both
    two cells deep, snapped to nodes."""
    horizontal = p.shape[:-1]
    src = np.array([[*(int(np.round((n - 1) / 2)) for n in horizontal), 2]])
    lines = []
    for n, count in zip(horizontal, p.receiver_counts, strict=True):
        line = np.round(np.linspace(0, n - 1, count)).astype(int)
        if len(np.unique(line)) != count:
            raise ValueError(f"{count} receivers do not fit on {n} cells")
        lines.append(line)
    grids = np.meshgrid(*lines, indexing="ij")
    rec = np.stack([*(g.ravel() for g in grids), np.full(grids[0].size, 2)], axis=1)
    return src, rec


def ricker(f0: float, t):
    """Ricker of peak f0 (Hz) peaked at 1/f0: our ``Survey``'s default wavelet."""
    arg = (np.pi * f0 * (t - 1.0 / f0)) ** 2
    return (1.0 - 2.0 * arg) * np.exp(-arg)
