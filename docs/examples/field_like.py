"""Field-like data, end to end: another engine's gathers, an unknown wavelet, noise, a streamer.

Run from the repository root: ``python docs/examples/field_like.py [OUTPUT_DIR]``
(``--ablation``: the robust misfit and TV one at a time). Needs Deepwave
(``pip install deepwave``; ``make bench`` installs it), which plays the field: it shoots a
layered, faulted model built here with a phase-rotated wavelet that the package is not told,
a marine streamer that moves with the source (receivers beyond the model's edge are not
recorded, so the number of traces varies from shot to shot), some dead traces and Gaussian
noise of twice the clean data's standard deviation (2σ0, the paper's σ0). The gathers are
written to SEG-Y with segyio directly, as a field file would arrive (coordinates in cm through
the header scalars). The package then takes the user's path: read the SEG-Y (dead traces
masked), estimate the wavelet on a 1-D starting model, invert with a multiscale schedule
(pixel FWI and IG-FWI; L2, and Huber with total variation) re-estimating the wavelet at each
stage, and export the models to SEG-Y. The true model and the clean data are used only to
report the errors. About 13 minutes on one thread (four inversions of 75 iterations).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

NX, NZ, H = 200, 70, 10.0  # cells (x, z) and spacing, m
F0 = 8.0  # the field wavelet's peak frequency, Hz
PHASE_DEG = 60.0  # its phase rotation, degrees: the package is not told
PEAK = 0.15  # s, the field wavelet's peak time
DT, T_MAX = 0.002, 1.8  # recording interval and length, s
NT = int(round(T_MAX / DT)) + 1
SHOT_X = 500.0 + 150.0 * np.arange(10)  # m
SOURCE_Z, RECEIVER_Z = 20.0, 10.0  # m below the sea surface (the model's top row)
OFFSETS = 100.0 + 20.0 * np.arange(60)  # m: the streamer trails the source (towards -x)
DEAD_FRACTION = 0.04  # share of live traces recorded as zeros
NOISE = 2.0  # Gaussian noise standard deviation over the clean data's (σ0)
COORD_SCALAR = -100  # SEG-Y SourceGroupScalar and ElevationScalar: centimetres
WATER_DEPTH, WATER_VP = 100.0, 1500.0  # m, m/s
SEED = 7


def true_model() -> np.ndarray:
    """The (x, z) model in m/s, float32: water over four dipping layers (1800-3000 m/s), a
    normal fault with 60 m of throw and a 2400 m/s lens."""
    x = np.arange(NX)[:, None] * H
    z = np.arange(NZ)[None, :] * H
    depth = z - np.where(x > 1100.0 + z / np.tan(np.radians(60.0)), 60.0, 0.0) - 0.05 * x
    vp = np.asarray([1800.0, 2200.0, 2600.0, 3000.0])[
        np.searchsorted(np.asarray([250.0, 400.0, 550.0]), depth, side="right")]
    lens = ((x - 700.0) / 180.0) ** 2 + ((z - 330.0) / 40.0) ** 2 < 1.0
    vp = np.where(lens, 2400.0, vp)
    vp = np.where(np.broadcast_to(z, vp.shape) < WATER_DEPTH, WATER_VP, vp)
    return vp.astype(np.float32)


def field_wavelet() -> np.ndarray:
    """The field's source signature (time,) on the recording axis, Deepwave's sign: a Ricker
    of ``F0`` peaked at ``PEAK``, its phase rotated by ``PHASE_DEG``."""
    from scipy.signal import hilbert

    t = np.arange(NT) * DT - PEAK
    ricker = (1 - 2 * (np.pi * F0 * t) ** 2) * np.exp(-((np.pi * F0 * t) ** 2))
    phi = np.radians(PHASE_DEG)
    return (np.cos(phi) * ricker - np.sin(phi) * np.imag(hilbert(ricker))).astype(np.float32)


def streamer() -> list[np.ndarray]:
    """Per shot, the x (m) of the receivers inside the model: the streamer trails the source."""
    return [xs - OFFSETS[xs - OFFSETS >= 0.0] for xs in SHOT_X]


def shoot_field(out: Path) -> None:
    """Deepwave's gathers of :func:`true_model` with its exact free surface, written with
    segyio: ``field.sgy`` (noise added, dead traces as zeros) and, for the report only,
    ``field_clean.sgy`` (the same traces without noise)."""
    import deepwave
    import torch

    # Deepwave's free surface lies one cell above its first row: its model starts one row
    # down, so that plane is our top row (z = 0) and index k is at depth (k + 1) H.
    vp = torch.from_numpy(true_model()[:, 1:])
    receivers = streamer()
    n_max = max(len(r) for r in receivers)
    src = torch.tensor([[[round(x / H), round(SOURCE_Z / H) - 1]] for x in SHOT_X])
    rec = torch.full((len(SHOT_X), n_max, 2), deepwave.IGNORE_LOCATION, dtype=torch.long)
    for s, xr in enumerate(receivers):  # shots with fewer receivers: the rest ignored
        rec[s, :len(xr), 0] = torch.from_numpy(np.rint(xr / H).astype(np.int64))
        rec[s, :len(xr), 1] = round(RECEIVER_Z / H) - 1
    wavelet = torch.from_numpy(field_wavelet()).reshape(1, 1, -1).repeat(len(SHOT_X), 1, 1)
    with torch.no_grad():
        out_dw = deepwave.scalar(vp, H, DT, source_amplitudes=wavelet, source_locations=src,
                                 receiver_locations=rec, accuracy=8, pml_freq=F0,
                                 pml_width=[20, 20, 0, 20],
                                 boundary=["pml", "pml", "free", "pml"])
    clean = [out_dw.receiver_amplitudes[s, :len(r)].numpy() for s, r in enumerate(receivers)]
    rng = np.random.default_rng(SEED)
    sigma0 = np.concatenate([c.ravel() for c in clean]).std()
    noisy = [c + NOISE * sigma0 * rng.standard_normal(c.shape) for c in clean]
    for t in noisy:
        t[rng.random(len(t)) < DEAD_FRACTION] = 0.0
    write_gathers(out / "field.sgy", noisy, receivers, "phase-rotated wavelet, 2 sigma0 noise")
    write_gathers(out / "field_clean.sgy", clean, receivers, "phase-rotated wavelet, no noise")


def write_gathers(path: Path, traces: list[np.ndarray], receivers: list[np.ndarray],
                  about: str) -> None:
    """Per shot (receiver, time) traces to SEG-Y with segyio, as a field file: FieldRecord
    1001.., coordinates in cm (scalars -100), source depth and receiver elevation."""
    import segyio

    spec = segyio.spec()
    spec.format, spec.samples = 5, np.arange(NT) * DT * 1e3
    spec.tracecount = sum(len(r) for r in receivers)
    cm = -COORD_SCALAR
    with segyio.create(str(path), spec) as f:
        f.text[0] = segyio.tools.create_text_header({
            1: "Field-like marine streamer gathers (docs/examples/field_like.py)",
            2: f"Deepwave scalar, free surface, {about}",
            3: "Coordinates in cm: SourceGroupScalar and ElevationScalar -100"})
        f.bin.update(hdt=int(round(DT * 1e6)), hns=NT, format=5, mfeet=1, tsort=1)
        i = 0
        for s, (xs, xr) in enumerate(zip(SHOT_X, receivers, strict=True)):
            for r, x in enumerate(xr):
                f.header[i] = {
                    segyio.TraceField.FieldRecord: 1001 + s,
                    segyio.TraceField.TraceNumber: r + 1,
                    segyio.TraceField.offset: int(round(x - xs)),
                    segyio.TraceField.SourceGroupScalar: COORD_SCALAR,
                    segyio.TraceField.SourceX: int(round(xs * cm)),
                    segyio.TraceField.GroupX: int(round(x * cm)),
                    segyio.TraceField.ElevationScalar: COORD_SCALAR,
                    segyio.TraceField.SourceDepth: int(round(SOURCE_Z * cm)),
                    segyio.TraceField.ReceiverGroupElevation: -int(round(RECEIVER_Z * cm)),
                    segyio.TraceField.TRACE_SAMPLE_COUNT: NT,
                    segyio.TraceField.TRACE_SAMPLE_INTERVAL: int(round(DT * 1e6)),
                }
                f.trace[i] = np.ascontiguousarray(traces[s][r], dtype=np.float32)
                i += 1


def dominant_frequency(observed) -> float:
    """The peak of the live traces' mean amplitude spectrum, Hz: the user's f0 guess."""
    data = np.nan_to_num(np.asarray(observed, dtype=np.float64))
    spectrum = np.abs(np.fft.rfft(data, axis=1)).mean(axis=(0, 2))
    freqs = np.fft.rfftfreq(data.shape[1], float(observed.time[1] - observed.time[0]))
    return float(freqs[np.argmax(spectrum)])


def relative_misfit(modelled, observed) -> float:
    """||d - d_obs|| / ||d_obs|| over the traces both hold (NaN: not recorded)."""
    d, o = np.asarray(modelled, np.float64), np.asarray(observed, np.float64)
    live = np.isfinite(o) & np.isfinite(d)
    return float(np.linalg.norm(d[live] - o[live]) / np.linalg.norm(o[live]))


RUNS = {  # name: (representation, loss, regularization)
    "pixel, l2": ("pixel", "l2", None),
    "pixel, huber + tv": ("pixel", "huber", {"tv": 0.02}),
    "ig, l2": ("ig", "l2", None),
    "ig, huber + tv": ("ig", "huber", {"tv": 0.02}),
}
ABLATION = {  # --ablation: the robust misfit and the regularisation one at a time
    "pixel, huber": ("pixel", "huber", None),
    "pixel, l2 + tv": ("pixel", "l2", {"tv": 0.02}),
    "ig, huber": ("ig", "huber", None),
    "ig, l2 + tv": ("ig", "l2", {"tv": 0.02}),
}
SCHEDULE = [(4.0, 25), (7.0, 25), (12.0, 25)]  # (low-pass cut-off Hz, iterations) per stage


def wavelet_error(estimate: np.ndarray) -> tuple[float, float]:
    """Relative L2 error and correlation of an estimated wavelet against the field's, in this
    package's sign (Deepwave's is the opposite: README, polarity)."""
    truth = -field_wavelet().astype(np.float64)
    return (float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth)),
            float(np.dot(estimate, truth) / np.linalg.norm(estimate) / np.linalg.norm(truth)))


def invert(out: Path, runs: dict) -> None:
    """The user's path on ``out/field.sgy``; reports against ``true.sgy`` and
    ``field_clean.sgy``, which a user would not have."""
    import xarray as xr

    import devito_crfwi as dc

    observed = dc.read_shots(out / "field.sgy", mask_dead_traces=True)  # NaN: not recorded
    live = np.isfinite(np.asarray(observed)).all(axis=1)
    print(f"field.sgy: {observed.sizes['shot']} shots, {int(live.sum())} live traces "
          f"({live.sum(axis=1).min()}-{live.sum(axis=1).max()} per shot), "
          f"{observed.sizes['time']} samples of {float(observed.time[1]) * 1e3:g} ms")
    f0 = dominant_frequency(observed)
    survey = dc.Survey.from_shots(observed, f0=f0)

    # The starting model a user would build: the survey's extent at 10 m, the water depth
    # from the bathymetry, a 1-D gradient below it.
    grid = xr.DataArray(np.full((NX, NZ), WATER_VP, np.float32), dims=("x", "z"),
                        coords={"x": np.arange(NX) * H, "z": np.arange(NZ) * H})
    initial = dc.linear_gradient(grid, 1700.0, 3000.0, water_velocity=WATER_VP,
                                 water_depth=WATER_DEPTH)
    water = dc.water_mask(initial)
    engine = dict(free_surface=True)
    wavelet = dc.estimate_wavelet(observed, initial, survey, **engine)
    survey = dc.Survey.from_shots(observed, f0=f0, wavelet=wavelet)

    vp_true = dc.read_segy(out / "true.sgy")  # for the report only
    clean = dc.read_shots(out / "field_clean.sgy")
    fits = {}

    def report(label: str, vp, w) -> dict:
        modelled = dc.simulate(vp, dc.Survey.from_shots(observed, f0=f0, wavelet=w), **engine,
                               progress=False)
        row = dc.metrics.all_metrics(vp, vp_true) | dict(
            zip(("wavelet_error", "wavelet_corr"), wavelet_error(w), strict=True),
            fit_noisy=relative_misfit(modelled, observed),
            fit_clean=relative_misfit(modelled, clean))
        fits[label] = row
        print(f"{label:>18}: MSE {row['mse']:.4g} (m/s)^2, SSIM {row['ssim']:.3f}; misfit to "
              f"the noisy data {row['fit_noisy']:.3f}, to the clean {row['fit_clean']:.3f}; "
              f"wavelet error {row['wavelet_error']:.1%} (correlation "
              f"{row['wavelet_corr']:.3f})", flush=True)
        return row

    print(f"f0 guess from the spectrum: {f0:.2f} Hz; wavelet estimated on the true model "
          "(for reference): error {:.1%} (correlation {:.3f})".format(*wavelet_error(
              dc.estimate_wavelet(observed, vp_true, survey, **engine))))
    report("starting model", initial, wavelet)
    models = {"true": vp_true, "starting model": initial}
    wavelets = {"estimated, starting model": wavelet}
    for name, (representation, loss, regularization) in runs.items():
        started = time.perf_counter()
        problem = dc.CRFWIProblem(observed, survey, initial, representation, loss=loss,
                                  regularization=regularization, water_mask=water,
                                  frequency_schedule=SCHEDULE, bounds=(1400.0, 3500.0),
                                  wavelet="estimate", **engine)
        result = problem.solve(sum(n for _, n in SCHEDULE), progress=False)
        name_file = name.replace(", ", "_").replace(" + ", "_")
        dc.write_segy(result["vp"], out / f"inverted_{name_file}.sgy", overwrite=True)
        report(name, result["vp"], problem.current_wavelet())
        print(f"{'':>18}  {time.perf_counter() - started:.0f} s; wrote inverted_{name_file}.sgy",
              flush=True)
        models[name] = result["vp"]
        wavelets[f"estimated, {name}"] = problem.current_wavelet()
    figure(models, fits, wavelets, out / ("field_like_ablation.png" if "pixel, huber" in runs
                                          else "field_like.png"))


def figure(models: dict, fits: dict, wavelets: dict, path: Path) -> None:
    """The models on one colour scale, titled with their scores, and the wavelets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 2, figsize=(11, 9), layout="constrained")
    extent = (0, NX * H / 1e3, NZ * H / 1e3, 0)
    for ax, (name, vp) in zip(axes.flat, models.items(), strict=False):
        image = ax.imshow(np.asarray(vp).T / 1e3, extent=extent, vmin=1.5, vmax=3.0,
                          cmap="jet", aspect="auto")
        row = fits.get(name)
        ax.set_title(name if row is None else
                     f"{name}: MSE {row['mse']:.3g}, SSIM {row['ssim']:.2f}", fontsize=9)
        ax.set_ylabel("depth (km)")
    fig.colorbar(image, ax=axes[:3], label="vp (km/s)", shrink=0.6)
    ax = axes.flat[-2]
    t = np.arange(NT) * DT
    ax.plot(t, -field_wavelet(), "k", lw=2, label="field (not told)")
    for label, w in wavelets.items():
        ax.plot(t, w, lw=1, label=label)
    ax.set_xlim(0, 0.4)
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=7)
    ax.set_title("source wavelet", fontsize=9)
    axes.flat[-1].axis("off")
    fig.savefig(path, dpi=80)


def main(out: Path, ablation: bool = False) -> None:
    out.mkdir(exist_ok=True)
    started = time.perf_counter()
    if not (out / "field.sgy").exists():
        shoot_field(out)
        import xarray as xr

        import devito_crfwi as dc

        dc.write_segy(xr.DataArray(true_model(), dims=("x", "z"),
                                   coords={"x": np.arange(NX) * H, "z": np.arange(NZ) * H},
                                   attrs={"units": "m/s"}), out / "true.sgy", overwrite=True)
        print(f"field.sgy written in {time.perf_counter() - started:.0f} s")
    invert(out, ABLATION if ablation else RUNS)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", nargs="?", default="field_like_output", type=Path)
    parser.add_argument("--ablation", action="store_true",
                        help="run the robust misfit and TV one at a time instead")
    args = parser.parse_args()
    main(args.output_dir, args.ablation)
