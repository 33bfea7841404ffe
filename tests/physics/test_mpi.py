"""Devito MPI domain decomposition: a 2-rank forward and Born run equals the 1-rank run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
MISSING = [name for name, found in (
    ("mpirun", shutil.which("mpirun")),
    ("mpicc", shutil.which("mpicc")),
    ("mpi4py", importlib.util.find_spec("mpi4py")),
) if not found]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason=f"Devito MPI needs {', '.join(MISSING)}: "
                       "run `make mpi` (Open MPI from apt, mpi4py from pip)"),
]


def test_two_ranks_equal_one(tmp_path):
    from tests.physics.mpi_forward import run

    out = tmp_path / "two_ranks.npz"
    env = dict(os.environ, DEVITO_MPI="1", OMP_NUM_THREADS="1",
               # Open MPI refuses root and more ranks than cores unless told; others ignore these
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = ["mpirun", "-n", "2", sys.executable, str(HERE / "mpi_forward.py"), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    two = np.load(out)
    one = run()  # this process: no DEVITO_MPI, one domain
    # the grid (80 x 70 with its C-PML) was really cut in two
    assert two["local_shape"].shape == (2, 2)
    assert two["local_shape"].prod(axis=1).sum() == np.prod(one["local_shape"])
    for key in ("forward", "born"):
        a, b = two[key].astype(np.float64), one[key].astype(np.float64)
        assert a.shape == b.shape
        assert np.linalg.norm(a - b) <= 1e-6 * np.linalg.norm(b), key
