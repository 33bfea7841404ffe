"""The benchmark's report: a results table, the paper's Table 1 beside ours, figures.

``write_report(bench)`` writes ``RESULTS.md`` (path ``[benchmark] results``) and small PNGs in
``figures/`` next to it from the finished runs of
:class:`~devito_crfwi.experiments.runner.Benchmark`.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..io.atomic import write_atomic
from ..ntk import mean_log10_decay
from .paper import METHODS, PAPER_TABLE1, run_id

COLUMNS = ["model", "scenario", "method", "mse", "ssim", "psnr", "misfit", "wall_s",
           "wave_solves", "initial_mse", "ntk_decay_start", "ntk_decay_end"]
"""Columns of :func:`results_frame` (MSE in (km/s)², PSNR in dB, wall time in s; NTK decay =
mean log10(λ_i/λ_1) of the run's top-k NTK eigenvalues at the start and end, NaN if not
recorded)."""


def results_frame(bench) -> pd.DataFrame:
    """One row per finished run, columns :data:`COLUMNS` (failed runs have NaN metrics)."""
    rows = []
    for s in bench.summaries():
        row = {c: s.get(c, math.nan) for c in COLUMNS}
        for when in ("start", "end"):
            if s.get(f"ntk_{when}"):
                row[f"ntk_decay_{when}"] = float(mean_log10_decay(s[f"ntk_{when}"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def fmt(value, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits; "–" for None, NaN and infinities."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _ordering(ours: dict[str, float], paper: dict[str, float]) -> tuple[str, str, str]:
    """(our order, paper's order, pairwise agreement) over the methods both have."""
    common = [m for m in paper if m in ours and math.isfinite(ours[m])]
    by_ours = sorted(common, key=lambda m: ours[m])
    by_paper = sorted(common, key=lambda m: paper[m])
    pairs = list(itertools.combinations(common, 2))
    agree = sum((ours[a] < ours[b]) == (paper[a] < paper[b]) for a, b in pairs)
    return (" < ".join(by_ours), " < ".join(by_paper),
            f"{agree}/{len(pairs)}" if pairs else "–")


def _spearman(ours: dict[str, float], paper: dict[str, float]) -> float:
    """Spearman rank correlation of our MSE and the paper's over the methods both have (NaN
    with fewer than 3); 1 = the same ordering."""
    common = [m for m in paper if m in ours and math.isfinite(ours[m])]
    if len(common) < 3:
        return math.nan
    ranks = [pd.Series([d[m] for m in common]).rank().to_numpy() for d in (ours, paper)]
    return float(np.corrcoef(*ranks)[0, 1])


def _figures(bench, frame: pd.DataFrame, folder: Path) -> list[Path]:
    # Figure objects, not pyplot: no global backend change (the notebook's stays inline).
    from matplotlib.figure import Figure

    def subplots(nrow, ncol, figsize):
        fig = Figure(figsize=figsize)
        return fig, fig.subplots(nrow, ncol, squeeze=False)

    def panel_grid(cells, xlabel, ylabel):
        """One panel per (model, scenario), at most 3 per row, titled and labelled."""
        ncol = min(3, len(cells))
        nrow = math.ceil(len(cells) / ncol)
        fig, axes = subplots(nrow, ncol, figsize=(3.0 * ncol, 2.2 * nrow))
        for ax, (model, scenario) in zip(axes.flat, cells, strict=False):
            ax.set_title(f"{model} / {scenario}", fontsize=8)
            ax.set_xlabel(xlabel, fontsize=7)
            ax.set_ylabel(ylabel, fontsize=7)
            ax.tick_params(labelsize=6)
        for ax in list(axes.flat)[len(cells):]:
            ax.axis("off")
        return fig, axes

    def save(fig, stem, dpi=70, pad=0.3):
        fig.tight_layout(pad=pad)
        path = folder / f"{name}_{stem}.png"
        # Atomic: parallel workers re-write the same figures.
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
        written.append(path)

    folder.mkdir(parents=True, exist_ok=True)
    name = bench.bench["name"]
    written = []
    groups = list(dict.fromkeys(zip(frame["model"], frame["scenario"], strict=True)))
    methods = bench.bench["methods"]
    # Models: one small figure per (model, scenario) (keeps each PNG well under 200 KB):
    # true, initial, each method.
    for model, scenario in groups:
        ncol = 2 + len(methods)
        fig, axes = subplots(1, ncol, figsize=(1.9 * ncol, 1.5))
        panels = {}
        for method in methods:
            path = bench.runs_dir / f"{run_id(model, scenario, method)}.nc"
            if path.is_file():
                with xr.open_dataset(path) as ds:
                    panels.setdefault("true", ds["vp_true"].values)
                    panels.setdefault("initial", ds["vp_initial"].values)
                    panels[method] = ds["vp"].values
        vmin = float(panels["true"].min()) if panels else 1500.0
        vmax = float(panels["true"].max()) if panels else 4500.0
        for col, key in enumerate(["true", "initial", *methods]):
            ax = axes[0, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if key in panels:
                ax.imshow(panels[key].T, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
            else:
                ax.axis("off")
            ax.set_title(METHODS.get(key, key), fontsize=7)
        axes[0, 0].set_ylabel(f"{model}\n{scenario}", fontsize=6)
        save(fig, f"models_{model}_{scenario}", dpi=60, pad=0.2)
    if groups:
        # MSE against iteration, one panel per (model, scenario).
        fig, axes = panel_grid(groups, "iteration", "MSE (km/s)²")
        for ax, (model, scenario) in zip(axes.flat, groups, strict=False):
            for method in methods:
                path = bench.runs_dir / f"{run_id(model, scenario, method)}.nc"
                if path.is_file():
                    with xr.open_dataset(path) as ds:
                        ax.plot(ds["iteration"].values + 1, ds["mse_km2"].values, lw=1,
                                label=METHODS.get(method, method))
        axes.flat[0].legend(fontsize=6)
        save(fig, "mse")
    # NTK spectra where recorded: one panel per (model, scenario), a colour per method,
    # dashed at the start and solid at the end.
    spectra = [s for s in bench.summaries() if "ntk_start" in s]
    ntk_groups = list(dict.fromkeys((s["model"], s["scenario"]) for s in spectra))
    if ntk_groups:
        fig, axes = panel_grid(ntk_groups, "index i", "λ_i / λ_1")
        colours = {m: f"C{i}" for i, m in enumerate(methods)}
        for ax, group in zip(axes.flat, ntk_groups, strict=False):
            for s in spectra:
                if (s["model"], s["scenario"]) != group:
                    continue
                for key, style in (("ntk_start", "--"), ("ntk_end", "-")):
                    values = np.asarray(s.get(key, []), dtype=float)
                    if values.size and values[0] > 0:
                        ax.semilogy(np.arange(1, values.size + 1), values / values[0], style,
                                    lw=1, color=colours.get(s["method"]),
                                    label=METHODS.get(s["method"], s["method"])
                                    if key == "ntk_end" else None)
        axes.flat[0].legend(fontsize=5, title="end (solid), start (dashed)", title_fontsize=5)
        save(fig, "ntk")
    return written


def _budget(bench) -> str:
    """The iterations (or epochs) of every scenario, in words."""
    def words(table) -> str | None:
        for key in ("iterations", "epochs"):
            if key in table:
                return f"{table[key]} {key}"
        return None

    own = {name: words(sc) for name, sc in bench.config["scenarios"].items()
           if name in bench.bench["scenarios"] and words(sc)}
    base = words(bench.bench)
    if not own:
        return base
    return base + " (" + ", ".join(f"{n}: {k}" for n, k in own.items()) + ")"


def beside_table1(frame: pd.DataFrame, cells,
                  title: str = "MSE beside the paper's Table 1") -> list[str]:
    """Markdown section: our MSE beside Table 1's, orderings and Spearman ρ per cell.

    ``frame`` has columns model, scenario, method (the paper's method keys) and mse;
    ``cells`` are (model, scenario, method) in the order the rows are wanted.
    """
    lines = ["", f"## {title}", "",
             "MSE (km/s)², ours / paper (arXiv 2603.22362, Table 1; ADFWI = conventional FWI). "
             "Absolute values compare only as far as the protocol is the paper's (see the "
             "config); the ordering of the methods is checked by the pairs that agree and by "
             "Spearman's rank correlation ρ (1: the same order, -1: reversed).", "",
             "| model | scenario | " + " | ".join(METHODS.values()) + " | order (ours) | "
             "order (paper) | pairs agreeing | Spearman ρ | best: ours / paper |",
             "|---|---|" + "---|" * (len(METHODS) + 5)]
    groups = list(dict.fromkeys((m, s) for m, s, _ in cells))
    total_agree = total_pairs = 0
    for model, scenario in groups:
        sub = frame[(frame["model"] == model) & (frame["scenario"] == scenario)]
        ours = dict(zip(sub["method"], sub["mse"].astype(float), strict=True))
        if not ours:
            continue
        paper = PAPER_TABLE1.get((model, scenario), {})
        vals = [f"{fmt(ours.get(m))} / {fmt(paper.get(m))}" for m in METHODS]
        best, rho = "–", math.nan
        if paper:
            rho = _spearman(ours, paper)
            order_ours, order_paper, agree = _ordering(ours, paper)
            if "/" in agree:
                a, n = (int(v) for v in agree.split("/"))
                total_agree, total_pairs = total_agree + a, total_pairs + n
            if len(ours) == len(paper):
                best = f"{order_ours.split(' < ')[0]} / {min(paper, key=paper.get)}"
        else:
            order_ours = " < ".join(sorted(ours, key=ours.get))
            order_paper, agree = "(not in Table 1)", "–"
        lines.append(f"| {model} | {scenario} | " + " | ".join(vals)
                     + f" | {order_ours} | {order_paper} | {agree} | {fmt(rho, 2)} | {best} |")
    if total_pairs:
        lines += ["", f"Pairwise orderings of methods that agree with the paper's Table 1, over "
                  f"the finished cells: {total_agree} of {total_pairs}."]
    return lines


def write_report(bench) -> Path:
    """Write RESULTS.md and the figures; returns the markdown's path."""
    b = bench.bench
    out = Path(b["results"])
    out.parent.mkdir(parents=True, exist_ok=True)
    frame = results_frame(bench)
    cells = bench.cells()
    done = len(frame)
    status = ("complete" if done == len(cells) else
              f"**PARTIAL: {done} of {len(cells)} runs finished**; rerunning the same command "
              "skips them and continues")
    figures = _figures(bench, frame, out.parent / "figures")
    lines = [
        f"# Benchmark results: {b['name']}",
        "",
        f"Status: {status}. Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{bench.machine()}.",
        "",
        f"Command: `devito-crfwi benchmark {Path(b['config_path']).name}` "
        f"(config below). Every method gets the same budget: {_budget(bench)} × "
        f"{b['shots_per_iteration']} shots per iteration (or all of a scenario's shots, if fewer); "
        f"water layer fixed; seed {b['seed']}. "
        "MSE in (km/s)², SSIM and PSNR (dB) against the true model's range, data misfit = "
        "relative L2 over all shots of the final model, wall time = the iterations' seconds.",
        "",
    ]
    if b.get("notes"):
        lines += [str(b["notes"]).strip(), ""]
    lines += ["## All runs", "",
              "| model | scenario | method | MSE | SSIM | PSNR | misfit | wall s | solves | "
              "initial MSE | NTK decay start / end |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in frame.itertuples(index=False):
        lines.append(
            f"| {row.model} | {row.scenario} | {METHODS.get(row.method, row.method)} | "
            f"{fmt(row.mse)} | {fmt(row.ssim, 3)} | {fmt(row.psnr, 3)} | "
            f"{fmt(row.misfit, 3)} | {fmt(row.wall_s, 3)} | {fmt(row.wave_solves)} | "
            f"{fmt(row.initial_mse)} | {fmt(row.ntk_decay_start, 3)} / "
            f"{fmt(row.ntk_decay_end, 3)} |")
    failed = [s for s in bench.summaries() if "error" in s]
    for s in failed:
        lines.append(f"\nRun {run_id(s['model'], s['scenario'], s['method'])} failed: "
                     f"{s['error']}")
    # Ours beside the paper's Table 1, when the config runs the paper's methods (an ablation's
    # variants, e.g. grid_lr10, are not the paper's numbers and get no column).
    if set(b["methods"]) & set(METHODS):
        lines += beside_table1(frame, cells)
    reading = Path(b["reading"]) if b.get("reading") else None
    if reading is not None and reading.is_file():  # the hand-written reading of the results
        lines += ["", reading.read_text().strip()]
    lines += ["", "## Figures", ""]
    for path in figures:
        lines.append(f"![{path.stem}](figures/{path.name})")
    lines += ["", "## Config", "", "```toml", b["config_text"].rstrip(), "```", ""]
    write_atomic(out, lambda tmp: tmp.write_text("\n".join(lines)))
    write_atomic(out.parent / f"{b['name']}_results.json",
                  lambda tmp: tmp.write_text(json.dumps(bench.summaries(), indent=1)))
    return out
