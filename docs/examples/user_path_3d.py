"""The README's 3-D user's path, end to end, on a cube built from the bundled 2-D sample.

Run from the repository root: ``python docs/examples/user_path_3d.py [OUTPUT_DIR]``. The cube
is ``segy_samples/layered_salt.sgy`` (200 x 80 cells at 20 m) decimated to 80 m and extruded
along y with a lateral shift, written as a 3-D SEG-Y cube and read back, so every step is the
one a user with a 3-D SEG-Y file takes. About two minutes on 2 cores.
"""

import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import devito_crfwi as dc
from devito_crfwi.io import sample_path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "user_path_3d_output")
out.mkdir(exist_ok=True)
started = time.perf_counter()

# A 3-D cube (x, y, z) at 80 m: the 2-D section at crossline y shifted along x by 160 m sin(.)
section = dc.read_segy(sample_path()).isel(x=slice(None, None, 4), z=slice(None, None, 4))
x, z = section.x.values, section.z.values
y = 80.0 * np.arange(16)
shift = 160.0 * np.sin(2 * np.pi * y / (y.size * 80.0))
cube = section.interp(x=np.clip(x[:, None] + shift, x[0], x[-1]).ravel(), z=z)
cube = xr.DataArray(cube.values.reshape(x.size, y.size, z.size), dims=("x", "y", "z"),
                    coords={"x": x, "y": y, "z": z}, attrs={"units": "m/s"})
dc.write_segy(cube, out / "cube.sgy", overwrite=True)

# --- the user's path -------------------------------------------------------------------------
vp_true = dc.read_segy(out / "cube.sgy")                  # xr.DataArray (x, y, z), m/s, coords in m
print(f"model cube.sgy: {' x '.join(str(n) for n in vp_true.shape)} cells (x, y, z) at "
      f"{float(vp_true.x[1] - vp_true.x[0]):g} m, "
      f"{float(vp_true.min()):.0f}-{float(vp_true.max()):.0f} m/s")
survey = dc.Survey.surface(vp_true, n_shots=(3, 2), n_receivers=(25, 8), f0=1.5, t_max=3.0)
observed = dc.simulate(vp_true, survey)                   # (shot, time, receiver), receiver_y coord
dc.write_shots(observed, out / "shots.sgy", overwrite=True)
observed = dc.read_shots(out / "shots.sgy")
print(f"{survey.n_shots} shots x {survey.n_receivers} receivers, {survey.nt} samples of "
      f"{survey.dt * 1e3:g} ms, written to and read back from shots.sgy")

water = dc.water_mask(vp_true)
initial = dc.smooth(vp_true, sigma=300.0, keep=water)
problem = dc.CRFWIProblem(observed, survey, initial=initial, representation="ig",
                          water_mask=water, true_model=vp_true)
result = problem.solve(iterations=30)                     # xr.Dataset: "vp" (x, y, z), "loss", ...
dc.write_segy(result["vp"], out / "inverted.sgy", overwrite=True)
# ---------------------------------------------------------------------------------------------

for label, model in [("before", initial), ("after", result["vp"])]:
    s = dc.metrics.all_metrics(model, vp_true)
    print(f"{label:>8}: MSE {s['mse']:.4g} (m/s)^2, PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}")
loss = result["loss"].values
print(f"data misfit {loss[0]:.4g} -> {loss[-1]:.4g}; wrote {out}/inverted.sgy "
      f"({' x '.join(str(n) for n in dc.read_segy(out / 'inverted.sgy').shape)})")
dc.plot.plot_slices(vp_true, initial, result["vp"], titles=["true", "initial", "inverted"],
                    units="km").savefig(out / "slices.png", dpi=90, bbox_inches="tight")
print(f"finished in {time.perf_counter() - started:.0f} s")
