"""Each method at a learning rate picked from the data, never from the true model.

The paper gives every network Adam at 1e-4. An ablation config runs *rate variants* of a
method: the same representation and options, another ``lr``. :func:`rate_variants` gathers the
finished runs of several configs as variants of the first config's methods;
:func:`pick_rates` picks, for each method, the rate whose run fits the data of a reference
cell best (the lowest final data misfit, which a user can observe); :func:`at_picked_rates`
keeps each cell's run at that rate, so that the methods are ranked against the paper's Table 1
as the protocol's runs are (:func:`picked_rates_report`). :func:`pick_in_each_cell` lets each
cell's own data choose among the rates run in it instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .paper import METHODS
from .report import beside_table1, fmt

__all__ = ["at_picked_rates", "pick_in_each_cell", "pick_rates", "picked_rates_report",
           "rate_variants"]

VARIANT_COLUMNS = ["model", "scenario", "method", "lr", "misfit", "mse", "ssim", "run", "config"]
"""Columns of :func:`rate_variants`: ``method`` is the first config's method the run is a rate
variant of, ``run`` the run's own method name, ``config`` its benchmark's name; MSE in
(km/s)², misfit = the final relative L2 data misfit."""


def _spec(bench, method: str) -> tuple[str, dict]:
    """(representation, options) of a config's method; the representation defaults to its name."""
    table = bench.config["methods"][method]
    return table.get("representation", method), dict(table.get("options", {}))


def rate_variants(benches: Sequence) -> pd.DataFrame:
    """Finished runs of ``benches`` that differ from a method of ``benches[0]`` in ``lr`` only.

    Parameters
    ----------
    benches : sequence of Benchmark
        The first names the methods (e.g. the protocol); the others may hold rate variants
        (e.g. an ablation's ``ig_lr10``). A run whose representation and options match none
        of the first config's methods (another output map, say) is left out; failed runs too.
    """
    if not benches:
        raise ValueError("rate_variants needs at least one benchmark")
    base = {name: _spec(benches[0], name) for name in benches[0].bench["methods"]}
    rows = []
    for bench in benches:
        for summary in bench.summaries():
            if not math.isfinite(summary.get("misfit", math.nan)):
                continue
            spec = _spec(bench, summary["method"])
            for name, base_spec in base.items():
                if spec == base_spec:
                    rows.append({**{c: summary.get(c, math.nan) for c in VARIANT_COLUMNS},
                                 "method": name, "run": summary["method"],
                                 "config": bench.bench["name"]})
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS)


def pick_rates(variants: pd.DataFrame, model: str, scenario: str) -> dict[str, float]:
    """Each method's rate with the lowest final data misfit in the cell (model, scenario).

    Methods without a finished run in that cell are left out.
    """
    cell = variants[(variants["model"] == model) & (variants["scenario"] == scenario)]
    if cell.empty:
        raise ValueError(f"no finished run in the reference cell ({model}, {scenario})")
    best = cell.loc[cell.groupby("method")["misfit"].idxmin()]
    return dict(zip(best["method"], best["lr"].astype(float), strict=True))


def at_picked_rates(variants: pd.DataFrame, picked: dict[str, float]) -> pd.DataFrame:
    """The runs of ``variants`` made at each method's picked rate, one per (model, scenario,
    method); methods not in ``picked`` are dropped."""
    rates = variants["method"].map(picked).astype(float)
    keep = np.isclose(variants["lr"].astype(float), rates, rtol=1e-9, atol=0.0)
    return (variants[keep].drop_duplicates(["model", "scenario", "method"])
            .reset_index(drop=True))


def pick_in_each_cell(variants: pd.DataFrame) -> pd.DataFrame:
    """For every (model, scenario, method), the run with the lowest final data misfit among the
    rates run in that cell: what a user who tries those rates on their own data would keep."""
    best = variants.groupby(["model", "scenario", "method"])["misfit"].idxmin()
    return variants.loc[best].reset_index(drop=True)


def picked_rates_report(benches: Sequence, model: str, scenario: str) -> str:
    """Markdown: the rates tried in the reference cell, the picks, and every cell of
    ``benches[0]`` at the picked rates beside Table 1 (with the runs still missing named)."""
    variants = rate_variants(benches)
    picked = pick_rates(variants, model, scenario)
    tried = variants[(variants["model"] == model) & (variants["scenario"] == scenario)]
    lines = [f"## Rates picked by data misfit in ({model}, {scenario})", "",
             "The lowest final data misfit picks each method's Adam rate; the MSE against the "
             "true model is shown, never used to pick.", "",
             "| method | lr | data misfit | MSE | SSIM | run (config) | picked |",
             "|---|---|---|---|---|---|---|"]
    edge = []
    for method, group in tried.sort_values(["method", "lr"]).groupby("method", sort=False):
        for row in group.itertuples(index=False):
            mark = "**yes**" if math.isclose(row.lr, picked[method], rel_tol=1e-9) else ""
            lines.append(f"| {METHODS.get(method, method)} | {fmt(float(row.lr), 3)} | "
                         f"{fmt(row.misfit, 3)} | {fmt(row.mse)} | {fmt(row.ssim, 3)} | "
                         f"{row.run} ({row.config}) | {mark} |")
        if len(group) > 1 and picked[method] in (group["lr"].min(), group["lr"].max()):
            edge.append(METHODS.get(method, method))
    if edge:
        lines += ["", f"At the edge of the rates tried (a wider sweep may pick another): "
                  f"{', '.join(edge)}."]
    chosen = at_picked_rates(variants, picked)
    cells = [c for c in benches[0].cells() if c[2] in picked]
    lines += beside_table1(chosen, cells, title="At the picked rates, beside the paper's Table 1")
    missing = [c for c in cells
               if chosen[(chosen["model"] == c[0]) & (chosen["scenario"] == c[1])
                         & (chosen["method"] == c[2])].empty]
    if missing:
        lines += ["", "Not run yet at the picked rate: "
                  + ", ".join(f"{m} {s} {METHODS.get(k, k)} (lr {fmt(picked[k], 3)})"
                              for m, s, k in missing) + "."]
    # Only where the picked rate has run beside others is there a choice for the cell to make.
    keys = ["model", "scenario", "method"]
    ran_picked = chosen[keys].merge(variants, on=keys)
    own = pick_in_each_cell(ran_picked)
    lines += beside_table1(own, cells, title="Each cell at its own pick, beside the paper's "
                                             "Table 1")
    lines += ["", "Each cell keeps, per method, the rate whose run fits that cell's data best "
              "among the rates run in it (the MSE is never used), where the rate picked above "
              "has run there. Where that is not the rate picked above:", ""]
    moved = own[~np.isclose(own["lr"].astype(float), own["method"].map(picked).astype(float),
                            rtol=1e-9, atol=0.0)]
    moved_lines = [f"- {r.model} {r.scenario} {METHODS.get(r.method, r.method)}: "
                   f"lr {fmt(r.lr, 3)} (data misfit {fmt(r.misfit, 3)})"
                   for r in moved.itertuples(index=False)]
    lines += moved_lines or ["- none"]
    return "\n".join(lines) + "\n"
