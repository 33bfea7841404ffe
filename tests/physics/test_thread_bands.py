"""The per-thread x-bands of the stencil loops: sizes, and results independent of the threads."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from devito_crfwi.physics.grid import ModelGrid
from devito_crfwi.physics.operators import OperatorKey, get_operator, thread_bands

# A grid above SMALL_GRID_POINTS, so the operators really run on several threads.
SCRIPT = """
import sys
import numpy as np, xarray as xr
from devito_crfwi.physics import Propagator, Survey
x, z = np.arange(230) * 10.0, np.arange(180) * 10.0
v = (1500 + 2000 * z[None, :] / z[-1] + 0 * x[:, None]).astype(np.float32)
v[100:140, 60:90] = 3000.0
vp = xr.DataArray(v, dims=("x", "z"), coords={"x": x, "z": z})
survey = Survey.surface(vp, n_shots=2, n_receivers=50, f0=10.0, t_max=0.3)
prop = Propagator.from_model(vp, survey)
data = prop.forward(v)
_, grad = prop.misfit_gradient(v * 0.98, data)
dv = np.zeros_like(v); dv[50:80, 40:60] = 100.0
np.savez(sys.argv[1], data=data, grad=grad, born=prop.born(v, dv))
"""


def test_band_sizes_split_x_and_keep_z_whole():
    grid = ModelGrid(shape=(100, 50), spacing=(10.0, 10.0), nbl=10)
    op = get_operator(OperatorKey(grid, 8, "float32", "jacobian_adjoint"))
    args = op.arguments(time_M=1, dt=1.0)  # x 0..119, y 0..69, the strips 10 cells
    sizes = thread_bands(op, args, 3)
    # x: the interior's loops 120 rows, the C-PML strips' 10 (+2 where the 4th-order
    # stencil reaches in): a third each; y (depth) whole
    assert {size for name, size in sizes.items() if name.startswith("x")} == {40, 4}
    assert {size for name, size in sizes.items() if name.startswith("y")} == {70}
    assert max(thread_bands(op, args, 7).values()) == 70
    assert 18 in thread_bands(op, args, 7).values()  # ceil(120 / 7): no row left out


@pytest.mark.parametrize("threads", ["3"])
def test_results_do_not_depend_on_the_thread_count(tmp_path, threads):
    out = {}
    for n in ("1", threads):
        path = tmp_path / f"run{n}.npz"
        env = dict(os.environ, OMP_NUM_THREADS=n)
        subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env, check=True)
        out[n] = np.load(path)
    for name in ("data", "grad", "born"):
        assert np.abs(out["1"][name]).max() > 0
        np.testing.assert_array_equal(out["1"][name], out[threads][name], err_msg=name)


def test_3d_blocks_y_and_leaves_the_results_unchanged(monkeypatch):
    import xarray as xr

    from devito_crfwi.physics import Propagator, Survey
    from devito_crfwi.physics import operators as ops

    grid = ModelGrid(shape=(20, 60, 16), spacing=(10.0, 10.0, 10.0), nbl=6)
    op = get_operator(OperatorKey(grid, 8, "float32", "forward"))
    sizes = thread_bands(op, op.arguments(time_M=1, dt=1.0), 2)
    # x: 32 rows in two bands; y: the 72 padded columns in blocks of Y_BLOCK_3D
    assert {size for name, size in sizes.items() if name.startswith("x")} >= {16}
    assert max(size for name, size in sizes.items() if name.startswith("y")) == ops.Y_BLOCK_3D

    coords = {d: np.arange(n) * 10.0 for d, n in zip("xyz", grid.shape, strict=True)}
    v = np.full(grid.shape, 2000.0, np.float32)
    v[:, 30:, 8:] = 2600.0
    vp = xr.DataArray(v, dims=("x", "y", "z"), coords=coords)
    survey = Survey(np.array([[100.0, 300.0, 20.0]]),
                    np.array([[50.0, y, 20.0] for y in (100.0, 300.0, 500.0)]),
                    f0=15.0, t_max=0.15)
    data = {}
    for block in (8, 10**6):  # blocks, and whole planes as before
        monkeypatch.setattr(ops, "Y_BLOCK_3D", block)
        data[block] = Propagator.from_model(vp, survey).forward(v)
    assert np.abs(data[8]).max() > 0
    np.testing.assert_array_equal(data[8], data[10**6])  # the same sums, tiled differently
