"""What the demo and ``invert`` print and write: metrics lines, history.csv, SEG-Y, figure and
the estimated wavelets."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUTPUT_NAMES = ("inverted.sgy", "history.csv", "summary.png")
"""The files :func:`write_outputs` writes into its folder."""

WAVELET_NAME = "wavelet.csv"
"""The file :func:`write_outputs` adds for a result with estimated wavelets."""


def output_names(wavelet: str) -> tuple[str, ...]:
    """The files :func:`write_outputs` writes for a ``CRFWIProblem(wavelet=...)`` run."""
    return OUTPUT_NAMES + ((WAVELET_NAME,) if wavelet == "estimate" else ())


def metrics_line(label: str, scores: dict[str, float]) -> str:
    return (f"{label:>9}: MSE {scores['mse']:.4g} (m/s)^2, RMSE {scores['rmse']:.1f} m/s, "
            f"PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}")


def _write_history(result, path: Path) -> None:
    terms = sorted(n for n in result.data_vars if str(n).startswith("reg_"))
    names = [n for n in ("loss", "time", "cutoff", "misfit", *terms, "mse", "rmse", "psnr",
                         "ssim") if n in result]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["iteration", *names])
        for i, it in enumerate(np.asarray(result["iteration"])):
            writer.writerow([int(it), *(repr(float(result[n].values[i])) for n in names)])


def _write_wavelets(result, path: Path) -> None:
    # One column per estimate, as the result's "wavelet" (wavelet_iteration, wavelet_time).
    wavelet = result["wavelet"].transpose("wavelet_time", "wavelet_iteration")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", *(f"iteration_{int(it)}"
                                   for it in wavelet["wavelet_iteration"].values)])
        for t, row in zip(wavelet["wavelet_time"].values, wavelet.values, strict=True):
            writer.writerow([repr(float(t)), *(repr(float(v)) for v in row)])


def write_outputs(result, out: Path, true, initial) -> None:
    from ..io import write_segy
    from ..plot import save_summary_figure

    segy, history, figure = (out / name for name in OUTPUT_NAMES)
    out.mkdir(parents=True, exist_ok=True)
    write_segy(result["vp"], segy, overwrite=True)
    _write_history(result, history)
    save_summary_figure(figure, true, initial, result)
    written = [segy, history, figure]
    if "wavelet" in result:  # estimated (wavelet="estimate")
        written.append(out / WAVELET_NAME)
        _write_wavelets(result, written[-1])
    print(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}")


def report(result) -> None:
    if "ssim" not in result:
        return
    before = {k: result.attrs[f"initial_{k}"] for k in ("mse", "rmse", "psnr", "ssim")}
    after = {k: float(result[k].values[-1]) for k in ("mse", "rmse", "psnr", "ssim")}
    print(metrics_line("before", before))
    print(metrics_line("after", after))
