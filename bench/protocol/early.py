"""What the networks fit first: the error spectrum of the early epochs, while the data misfit
falls and the model MSE rises (the hump of the protocol's MSE curves in the first ~50 epochs).

Reruns the first epochs of protocol cells exactly as ``protocol.toml`` runs them (same data,
initial model, network, seed, optimiser; the benchmark's cached observed data) and, every
``--every`` epochs, splits the model error by wavenumber band and depth third as
``analyse.py`` does, each as now / initial. Writes ``EARLY.md`` next to this file::

    python bench/protocol/early.py [--epochs 60] [--every 10] [--output EARLY.md] [CELL ...]
    # CELL: scenario:method; the constant-start probe:
    python bench/protocol/early.py --epochs 40 --output EARLY_CONSTANT.md \
        constant:pixel constant:inr constant:lowrank
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from devito_crfwi.experiments.paper import METHODS
from devito_crfwi.experiments.runner import Benchmark

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from analyse import band_energies, band_labels, depth_mse  # noqa: E402


def probe(bench: Benchmark, cell: tuple[str, str, str], epochs: int, every: int) -> list[str]:
    """Markdown rows for one cell: epoch, loss, MSE, band and depth ratios."""
    problem, vp, initial, *_ = bench.problem_for(cell)
    true = np.asarray(vp, dtype=np.float64)
    spacing = tuple(float(vp[c][1] - vp[c][0]) for c in ("x", "z"))
    e0 = np.asarray(initial, dtype=np.float64) - true
    b0, d0 = band_energies(e0, spacing), depth_mse(e0)
    snapshots = {0: np.asarray(initial, dtype=np.float64)}

    def keep(problem, iteration, loss) -> None:  # after step `iteration` (0-based)
        if (iteration + 1) % every == 0:
            snapshots[iteration + 1] = np.asarray(problem.current_model(), dtype=np.float64)

    result = problem.solve(epochs, callback=keep, progress=False)
    loss = np.concatenate([[np.nan], result["loss"].values])  # loss[i]: at the model of epoch i-1
    rows = []
    for epoch, model in sorted(snapshots.items()):
        e = model - true
        misfit = loss[epoch + 1] if epoch + 1 < loss.size else np.nan
        rows.append(f"| {cell[1]} | {METHODS.get(cell[2], cell[2])} | {epoch} | "
                    f"{misfit:.4g} | {np.mean(e ** 2) * 1e-6:.4f} | "
                    + " | ".join(f"{v:.2f}" for v in band_energies(e, spacing) / b0) + " | "
                    + " | ".join(f"{v:.2f}" for v in depth_mse(e) / d0) + " |")
    return rows


def main() -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cells", nargs="*", default=["nolowfreq:inr", "nolowfreq:lowrank"])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--output", default="EARLY.md", help="file name, next to this script")
    args = parser.parse_args()
    bench = Benchmark(HERE / "protocol.toml", output_dir=HERE / "runs")
    labels = band_labels()
    lines = ["# What the networks fit first", "",
             f"Written by `bench/protocol/early.py` ({time.strftime('%Y-%m-%d', time.gmtime())}): "
             f"the first {args.epochs} epochs of protocol cells rerun as `protocol.toml` runs "
             "them. Loss: the epoch's L2 data misfit over all shots (the package's relative L2, "
             "high-passed in the nolowfreq cell). Band and depth columns: error energy now / at "
             "the initial model, as in ANALYSIS.md.", "",
             "| scenario | method | epoch | loss | MSE (km/s)² | " + " | ".join(labels)
             + " | top third | middle | bottom third |",
             "|---|---|---|---|---|" + "---|" * (len(labels) + 3)]
    for spec in args.cells:
        scenario, method = spec.split(":")
        lines += probe(bench, ("marmousi", scenario, method), args.epochs, args.every)
    out = HERE / args.output
    out.write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    print(main())
