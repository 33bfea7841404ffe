"""Pick each method's learning rate from the lr_sweep.toml runs, without the true model.

Rule: the rate with the lowest geometric mean of the final relative data misfit over the
sweep's cells (a geometric mean, so the constant-start cell's larger misfits do not drown the
smooth-start cell). MSE against the true model is printed beside it for the reader, not used.

    ../../.venv/bin/python pick_lr.py            # after: devito-crfwi benchmark lr_sweep.toml
"""

from __future__ import annotations

import numpy as np

from devito_crfwi.experiments.runner import Benchmark


def main() -> None:
    bench = Benchmark("lr_sweep.toml")
    methods = bench.config["methods"]
    scores: dict[str, list[tuple[float, float, str]]] = {}
    print(f"| method | lr | {' | '.join(f'{s} misfit / MSE' for s in bench.bench['scenarios'])} "
          "| geo-mean misfit |")
    print("|---|---|" + "---|" * (len(bench.bench["scenarios"]) + 1))
    for name in bench.bench["methods"]:
        runs = [s for s in bench.summaries() if s["method"] == name]
        if len(runs) < len(bench.bench["scenarios"]):
            print(f"| {name} | (unfinished: {len(runs)} runs) |")
            continue
        rep, lr = methods[name]["representation"], float(methods[name]["lr"])
        geo = float(np.exp(np.mean([np.log(r["misfit"]) for r in runs])))
        scores.setdefault(rep, []).append((geo, lr, name))
        cells = " | ".join(f"{r['misfit']:.3g} / {r['mse']:.3f}" for r in runs)
        print(f"| {rep} | {lr:g} | {cells} | {geo:.3g} |")
    print()
    for rep, entries in scores.items():
        geo, lr, _ = min(entries)
        print(f"{rep}: lr = {lr:g}  (geo-mean misfit {geo:.3g})")


if __name__ == "__main__":
    main()
