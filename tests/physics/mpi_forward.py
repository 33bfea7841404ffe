"""Forward and Born modelling under Devito MPI; run by ``tests/test_mpi.py``.

Usage: ``DEVITO_MPI=1 mpirun -n 2 python tests/physics/mpi_forward.py OUT.npz``. Every rank runs the
same program on its part of the domain; rank 0 writes the gathered receiver data and each
rank's local grid shape to ``OUT.npz``.
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr

from devito_crfwi.physics import Propagator, Survey


def layered_model() -> xr.DataArray:
    """The 40 x 30 model at 10 m of ``tests/conftest.py`` (fixture ``layered``) (m/s)."""
    nx, nz = 40, 30
    x, z = np.meshgrid(np.arange(nx), np.arange(nz), indexing="ij")
    vp = np.where(z < 12, 2000.0, 2400.0)
    vp += 250.0 * np.exp(-((x - 22) ** 2 + (z - 20) ** 2) / 20.0)
    return xr.DataArray(vp.astype(np.float32), dims=("x", "z"),
                        coords={"x": np.arange(nx) * 10.0, "z": np.arange(nz) * 10.0},
                        attrs={"units": "m/s"})


def run() -> dict[str, np.ndarray]:
    """Forward data of all shots and Born data of shot 1, for the layered model."""
    vp = layered_model()
    survey = Survey.surface(vp, n_shots=2, n_receivers=15, f0=15.0, t_max=0.3)
    prop = Propagator.from_model(vp, survey, vmax=3000.0, boundary_width=20)
    dvp = np.zeros(vp.shape)
    dvp[15:25, 15:25] = 50.0
    return {
        "forward": prop.forward(vp.values),
        "born": prop.born(vp.values, dvp, [1]),
        "local_shape": np.asarray(prop._vp2.data.shape),  # this rank's part of the grid
    }


if __name__ == "__main__":
    results = run()
    from devito import configuration

    if configuration["mpi"]:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        shapes = comm.gather(results["local_shape"])
        results["local_shape"] = np.asarray(shapes) if comm.rank == 0 else None
        if comm.rank != 0:
            sys.exit(0)
    np.savez(sys.argv[1], **results)
