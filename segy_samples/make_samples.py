"""Generate the bundled SEG-Y samples (deterministic: no random numbers).

    python segy_samples/make_samples.py            # layered_salt.sgy (the model)
    python segy_samples/make_samples.py --shots    # also layered_salt_shots.sgy (needs Devito)

The model is a 200 x 80 grid at 20 m (4 km x 1.6 km): a 200 m water layer at
1500 m/s, six dipping sediment layers from 1800 to 4000 m/s cut by a normal fault,
and a salt body at 4500 m/s. The shot gathers are modelled with
``devito_crfwi.simulate`` (8 shots, 100 receivers, 6 Hz Ricker, 2 s) and stored
at 10 ms after an anti-alias low-pass, to keep the committed files under 1 MiB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent
# The files travel in the wheel as package data; segy_samples/*.sgy are links to them.
PACKAGED = HERE.parent / "devito_crfwi" / "io" / "samples"
MODEL_FILE = "layered_salt.sgy"
SHOTS_FILE = "layered_salt_shots.sgy"

NX, NZ, SPACING = 200, 80, 20.0  # cells, cells, m
WATER_DEPTH = 200.0  # m
WATER_VP = 1500.0  # m/s
SALT_VP = 4500.0  # m/s
LAYER_VP = (1800.0, 2100.0, 2500.0, 2900.0, 3300.0, 4000.0)  # m/s, top to bottom
LAYER_TOPS = (200.0, 380.0, 600.0, 820.0, 1050.0, 1300.0)  # m at x = 0 (first is the seabed)
DIP = 0.06  # layer dip, m of depth per m of x
FAULT_X, FAULT_SLOPE, FAULT_THROW = 1500.0, 0.5, 120.0  # m at the seabed, dx/dz, m down
SALT_CENTRE, SALT_AXES = (2900.0, 900.0), (550.0, 330.0)  # m
SHOT_DT = 0.010  # s, sample interval of the stored gathers
SHOT_CUTOFF = 35.0  # Hz, anti-alias low-pass before resampling (Nyquist 50 Hz)


def build_layered_salt() -> xr.DataArray:
    """The layered model with a fault and a salt body.

    Returns
    -------
    xarray.DataArray, dims ("x", "z"), float32, m/s
        200 x 80 cells at 20 m, origin 0.
    """
    x = SPACING * np.arange(NX)
    z = SPACING * np.arange(NZ)
    xx, zz = np.meshgrid(x, z, indexing="ij")
    # Hanging wall (east of the fault plane) is dropped by FAULT_THROW.
    fault_plane_x = FAULT_X + FAULT_SLOPE * (zz - WATER_DEPTH)
    restored_z = np.where(xx > fault_plane_x, zz - FAULT_THROW, zz)
    vp = np.full(xx.shape, WATER_VP)
    vp = np.where(zz >= WATER_DEPTH, LAYER_VP[0], vp)  # flat, unfaulted seabed
    for top, velocity in zip(LAYER_TOPS[1:], LAYER_VP[1:], strict=True):
        inside = (restored_z >= top + DIP * xx) & (zz >= WATER_DEPTH)
        vp = np.where(inside, velocity, vp)
    # Salt: an ellipse with a stem down to the model bottom.
    (cx, cz), (ax, az) = SALT_CENTRE, SALT_AXES
    dome = ((xx - cx) / ax) ** 2 + ((zz - cz) / az) ** 2 <= 1.0
    stem = (zz >= cz) & (np.abs(xx - cx) <= 0.45 * ax)
    vp = np.where(dome | stem, SALT_VP, vp)
    return xr.DataArray(
        vp.astype(np.float32),
        dims=("x", "z"),
        coords={"x": x, "z": z},
        attrs={"units": "m/s"},
    )


def resample_gathers(gathers: xr.DataArray, dt: float, cutoff: float) -> xr.DataArray:
    """Low-pass then resample shot gathers onto ``dt * arange(n)`` (s).

    Parameters
    ----------
    gathers : xarray.DataArray, dims ("shot", "time", "receiver")
    dt : float
        New sample interval in s.
    cutoff : float
        Low-pass corner in Hz, below the new Nyquist 1 / (2 dt).
    """
    from scipy.interpolate import CubicSpline
    from scipy.signal import butter, sosfiltfilt

    time = gathers["time"].values
    old_dt = float(time[1] - time[0])
    sos = butter(8, cutoff, fs=1.0 / old_dt, output="sos")
    smooth = sosfiltfilt(sos, gathers.values.astype(np.float64), axis=1)
    n = int(np.floor(time[-1] / dt + 1e-9)) + 1
    new_time = dt * np.arange(n)
    values = CubicSpline(time, smooth, axis=1)(new_time).astype(np.float32)
    coords = {name: c for name, c in gathers.coords.items() if "time" not in c.dims}
    coords["time"] = new_time
    return xr.DataArray(values, dims=gathers.dims, coords=coords, attrs={**gathers.attrs, "dt": dt})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PACKAGED,
                        help="output folder (default: devito_crfwi/io/samples)")
    parser.add_argument("--shots", action="store_true", help="also model the shot gathers")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)

    from devito_crfwi.io import read_shots, write_segy, write_shots

    vp = build_layered_salt()
    model_path = write_segy(vp, args.out / MODEL_FILE, overwrite=args.overwrite)
    print(f"wrote {model_path} ({vp.sizes['x']} x {vp.sizes['z']} at {SPACING:g} m)")
    if args.shots:
        import devito_crfwi as dc  # Devito and torch: only for the gathers

        survey = dc.Survey.surface(vp, n_shots=8, n_receivers=100, f0=6.0, t_max=2.0)
        gathers = resample_gathers(dc.simulate(vp, survey), SHOT_DT, SHOT_CUTOFF)
        shots_path = write_shots(gathers, args.out / SHOTS_FILE, overwrite=args.overwrite)
        read_shots(shots_path)  # check it reads back
        print(f"wrote {shots_path} {dict(gathers.sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
