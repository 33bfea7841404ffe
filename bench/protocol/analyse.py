"""Where and at which wavenumbers each protocol run improved or degraded the model.

For every finished run of the protocol, its ablations and the Overthrust cells (or under the
folders given), the model error e = v - v_true is split

* by wavenumber: the energy of e in bands of the radial wavenumber |k| = sqrt(kx² + kz²)
  (cycles/km), from the orthonormal DCT-II of e (an even extension, so the model's edges
  add no spurious high wavenumbers; Parseval: the bands' energies sum to ||e||²);
* by depth: the MSE of e in three equal depth ranges.

Each entry is final / initial error energy in that band or range: below 1 the run improved it,
above 1 it made it worse. Only observable choices enter (bands fixed before reading any
result). Writes ``ANALYSIS.md`` next to this file::

    python bench/protocol/analyse.py [RUNS_DIR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.fft import dctn

from devito_crfwi.experiments.paper import METHODS

HERE = Path(__file__).resolve().parent
# The protocol's runs and the ablations' (their configs' output folders).
RUN_FOLDERS = ("runs", "ablation_runs", "ablation_picked_runs", "ablation_picked_constant_runs",
               "ablation_one_shot_runs", "ablation_tracenorm_runs", "overthrust_runs")
# Band edges in cycles/km: wavelengths > 4 km, 2-4 km, 1-2 km, 500 m-1 km, 250-500 m, < 250 m.
# At 8 Hz and 1.5-4.7 km/s, reflections resolve up to 2f/v ~ 3.4-11 cycles/km, diving waves far
# less: the low bands are what the smooth start lacks, the top bands what no data here constrain.
BAND_EDGES = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, np.inf)


def band_labels() -> list[str]:
    """Column labels of the wavenumber bands, as wavelengths."""
    def wavelength(k: float) -> str:
        return "∞" if k == 0 else f"{1 / k:g} km" if k <= 1 else f"{1000 / k:g} m"
    return [f"{wavelength(lo)}–{wavelength(hi) if np.isfinite(hi) else '0'}"
            for lo, hi in zip(BAND_EDGES[:-1], BAND_EDGES[1:], strict=True)]


def band_energies(error: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Energy of ``error`` (x, z) per band of :data:`BAND_EDGES`; spacing (dx, dz) in m."""
    coeffs = dctn(error, type=2, norm="ortho")
    # DCT-II index n of N samples at spacing d is the wavenumber n / (2 N d) cycles per m.
    kx, kz = (np.arange(n) / (2 * n * d) * 1000.0 for n, d in zip(error.shape, spacing,
                                                                   strict=True))
    k = np.hypot(kx[:, None], kz[None, :])
    band = np.digitize(k, BAND_EDGES[1:-1])
    return np.bincount(band.ravel(), weights=(coeffs ** 2).ravel(), minlength=len(BAND_EDGES) - 1)


def depth_mse(error: np.ndarray, parts: int = 3) -> np.ndarray:
    """MSE of ``error`` (x, z) in ``parts`` equal depth ranges, top first."""
    return np.array([np.mean(chunk ** 2) for chunk in np.array_split(error, parts, axis=1)])


def analyse(path: Path) -> dict:
    """The band and depth ratios (final / initial error) of one run's NetCDF."""
    with xr.open_dataset(path) as ds:
        true, initial, final = (ds[name].values.astype(np.float64)
                                for name in ("vp_true", "vp_initial", "vp"))
        spacing = tuple(float(ds[c][1] - ds[c][0]) for c in ("x", "z"))
        depth = float(ds["z"][-1])
        mse = ds["mse_km2"].values
    e0, e1 = initial - true, final - true
    b0, b1 = band_energies(e0, spacing), band_energies(e1, spacing)
    return {"bands": b1 / b0, "band_share": b0 / b0.sum(), "depth": depth_mse(e1) / depth_mse(e0),
            "mse": (float(mse[0]), float(mse.min()), int(mse.argmin()), float(mse[-1])),
            "depth_m": depth}


def table(runs: list[Path]) -> list[str]:
    """Markdown lines: one row per run."""
    labels = band_labels()
    lines = ["| model | scenario | method | MSE first / min (epoch) / last | "
             + " | ".join(labels) + " | top third | middle | bottom third |",
             "|---|---|---|---|" + "---|" * (len(labels) + 3)]
    shares = {}
    for path in runs:
        model, scenario, method = path.stem.split("__")
        r = analyse(path)
        shares[model, scenario] = r["band_share"]
        first, low, at, last = r["mse"]
        lines.append(f"| {model} | {scenario} | {METHODS.get(method, method)} | "
                     f"{first:.3f} / {low:.3f} ({at}) / {last:.3f} | "
                     + " | ".join(f"{v:.2f}" for v in r["bands"]) + " | "
                     + " | ".join(f"{v:.2f}" for v in r["depth"]) + " |")
    lines += ["", "Share of the initial error energy in each band (the start's own spectrum):", "",
              "| model | scenario | " + " | ".join(labels) + " |",
              "|---|---|" + "---|" * len(labels)]
    lines += [f"| {m} | {s} | " + " | ".join(f"{v:.1%}" for v in share) + " |"
              for (m, s), share in shares.items()]
    return lines


def main(folders: list[str]) -> Path:
    """Analyse every run NetCDF in ``folders`` and write ANALYSIS.md."""
    runs = sorted(p for f in folders for p in Path(f).glob("*__*__*.nc"))
    if not runs:
        raise SystemExit(f"no run NetCDF (model__scenario__method.nc) found in {folders}")
    lines = ["# Where the protocol runs improve the model", "",
             "Written by `bench/protocol/analyse.py` from the runs' final models. Each band or "
             "depth column is the error energy of the final model divided by that of the "
             "initial model (below 1: improved, above 1: made worse); bands are wavelengths of "
             "the model error (orthonormal DCT-II, radial wavenumber); depth thirds are of the "
             "whole model, water included (it is held fixed, so its error stays 0).", ""]
    lines += table(runs)
    out = HERE / "ANALYSIS.md"
    out.write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    print(main(sys.argv[1:] or [str(HERE / folder / "runs") for folder in RUN_FOLDERS]))
