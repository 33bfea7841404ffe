"""How much the boundaries reflect, measured through the public API (``dc.simulate``).

**Absorbing boundary.** Constant 2000 m/s, 2 km x 1 km at 10 m, source in the middle,
receivers 200 m in from the sides: near-normal incidence (a receiver beside the source),
grazing incidence (receivers along the top and the sides, far from the source), and the
whole spread. The reference is the same source and receivers inside a model 3 km larger on
every side, whose boundary echoes arrive after the recording ends; the error is
``max |data - reference|`` over the traces, as a fraction of the direct wave's peak, so it is
the boundary's echo alone (both runs share grid and time step). Cases: a Ricker at ``f0`` and,
with the absorbing layer still designed for ``f0``, a Ricker at ``0.5 f0`` (longer
wavelengths, the hard case for a PML); each at the default width and at 10/20/40 cells.

**Free surface.** A source and receivers a few cells below the top row of a 2 km x 1 km
model with ``free_surface=True``, against the image-source solution: the same source minus
its mirror image about the top row, modelled without a free surface in a model 3 km larger
on every side.

Usage::

    .venv/bin/python bench/bench_boundary.py            # writes bench/BOUNDARY.md
    .venv/bin/python bench/bench_boundary.py --quick    # default widths only, no file

About 5 minutes on 2 idle cores (mostly Devito compiling one kernel per geometry).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

import devito_crfwi as dc
from devito_crfwi.physics import default_boundary_width, ricker

VELOCITY = 2000.0  # m/s
SPACING = 10.0  # m
SIZE = (2000.0, 1000.0)  # m, (x, z)
MARGIN = 3000.0  # m added on every side of the reference model
F0 = 10.0  # Hz
T_MAX = 1.6  # s: every first-order echo of the small model, none of the big one's


def constant_model(size: tuple[float, float], origin: tuple[float, float]) -> xr.DataArray:
    """A constant-velocity model (x, z) in m/s covering ``size`` m from ``origin``."""
    nx, nz = (int(round(s / SPACING)) + 1 for s in size)
    return xr.DataArray(
        np.full((nx, nz), VELOCITY, np.float32), dims=("x", "z"),
        coords={"x": origin[0] + SPACING * np.arange(nx),
                "z": origin[1] + SPACING * np.arange(nz)},
        attrs={"units": "m/s"})


def receivers() -> dict[str, np.ndarray]:
    """Receiver groups (receiver, 2) in m, by incidence on the boundary their echo meets."""
    x1, z1 = SIZE
    inset = 200.0
    top = np.stack([np.linspace(inset, x1 - inset, 81), np.full(81, inset)], axis=1)
    side = np.stack([np.full(31, inset), np.linspace(inset, z1 - inset, 31)], axis=1)
    near = np.array([[x1 / 2 + 100.0, z1 / 2]])
    return {"near-normal (beside the source)": near,
            "grazing (line 200 m below the top)": top,
            "grazing (line 200 m from the left)": side}


def echo(wavelet_f0: float, width: int | None) -> dict[str, float]:
    """Largest echo / direct peak per receiver group, for a Ricker at ``wavelet_f0`` (Hz)
    and an absorbing layer designed for ``F0`` of ``width`` cells (None: the default)."""
    groups = receivers()
    positions = np.concatenate(list(groups.values()))
    source = np.array([[SIZE[0] / 2, SIZE[1] / 2]])
    survey = dc.Survey(source, positions, f0=F0, t_max=T_MAX, dt=0.002)
    survey = dc.Survey(source, positions, f0=F0, t_max=T_MAX, dt=0.002,
                       wavelet=ricker(wavelet_f0, survey.time))
    small = dc.simulate(constant_model(SIZE, (0.0, 0.0)), survey, boundary_width=width).values[0]
    big = dc.simulate(constant_model((SIZE[0] + 2 * MARGIN, SIZE[1] + 2 * MARGIN),
                                     (-MARGIN, -MARGIN)), survey, boundary_width=20).values[0]
    out, start = {}, 0
    for name, group in groups.items():
        cols = slice(start, start + len(group))
        start += len(group)
        out[name] = float(np.abs(small[:, cols] - big[:, cols]).max() / np.abs(big[:, cols]).max())
    out["all receivers"] = max(out.values())
    return out


def image_source(depth_cells: int) -> dict[str, float]:
    """Free surface against the image-source solution, source and receivers
    ``depth_cells`` below the top row; also a receiver on the top row itself."""
    z_src = depth_cells * SPACING
    positions = np.stack([np.linspace(200.0, SIZE[0] - 200.0, 81), np.full(81, z_src)], axis=1)
    positions = np.concatenate([positions, [[SIZE[0] / 2 + 300.0, 0.0]]])
    source = np.array([[SIZE[0] / 2, z_src]])
    survey = dc.Survey(source, positions, f0=F0, t_max=1.0, dt=0.002)
    fs = dc.simulate(constant_model(SIZE, (0.0, 0.0)), survey, free_surface=True).values[0]
    big = constant_model((SIZE[0] + 2 * MARGIN, SIZE[1] + 2 * MARGIN), (-MARGIN, -MARGIN))
    image = dc.Survey(np.array([[SIZE[0] / 2, z_src], [SIZE[0] / 2, -z_src]]), positions,
                      f0=F0, t_max=1.0, dt=0.002)
    pair = dc.simulate(big, image).values
    reference = pair[0] - pair[1]
    lines = slice(0, 81)
    peak = np.abs(reference[:, lines]).max()
    return {"image-source error / peak": float(np.abs(fs[:, lines] - reference[:, lines]).max()
                                                / peak),
            "receiver on the top row / peak": float(np.abs(fs[:, -1]).max() / peak)}


def table(rows: list[tuple], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="default widths only, no file")
    args = parser.parse_args()
    default = default_boundary_width((SPACING, SPACING), VELOCITY, F0)
    widths = [None] if args.quick else [None, 10, 20, 40]
    began = time.time()
    rows = []
    for wavelet_f0 in (F0, 0.5 * F0):
        for width in widths:
            result = echo(wavelet_f0, width)
            label = f"{default} (default)" if width is None else str(width)
            rows.append((f"{wavelet_f0:g}", label,
                         *(f"{100 * v:.3f}%" for v in result.values())))
            print(rows[-1], flush=True)
    header = ("Ricker (Hz)", "C-PML cells", *receivers(), "all receivers")
    surface = [(d, *(f"{100 * v:.4f}%" for v in image_source(d).values())) for d in (2, 4)]
    print(surface, flush=True)
    if args.quick:
        return
    import devito

    text = f"""# Boundary reflections

Measured by `bench/bench_boundary.py` on {datetime.date.today()} ({platform.machine()},
Python {sys.version.split()[0]}, Devito {devito.__version__}; {time.time() - began:.0f} s).
See the script's docstring for the set-up. Largest echo over each receiver group's traces,
as a fraction of the direct wave's peak; the absorbing layer is designed for f0 = {F0:g} Hz
(the survey's f0) in every row, the 5 Hz rows send it a Ricker of half that frequency.
The default width is 0.4 of the longest dominant wavelength, at least 14 cells.

{table(rows, header)}

## Free surface (pressure zero on the model's top row)

Source and receivers `depth` cells below the top row, against the image-source solution
(the same source minus its mirror about the top row, in a model {MARGIN / 1000:g} km larger on
every side); a receiver on the top row records zero.

{table(surface, ("depth (cells)", "image-source error / peak", "receiver on the top row / peak"))}
"""
    Path(__file__).with_name("BOUNDARY.md").write_text(text)


if __name__ == "__main__":
    main()
