"""The paper's two readings of its protocol side by side, against Table 1, and its two claims.

Reads the runner's result lists (``paper_protocol*_results.json`` next to this file):

* the earlier engine, full batch (``protocol.toml``: sponge, surface a cell up);
* the corrected engine, full batch (``protocol_v2.toml``, the control: the smooth cell);
* the corrected engine, one-shot (``oneshot.toml``: one Adam step per shot);
* Overthrust under the one-shot reading (``oneshot_overthrust.toml``), where it has run.

Per cell and reading: MSE per method, Spearman ρ of the methods' MSE order against Table 1
(computed from all five methods only; "4/5" where some are still running), the pairs of
methods ordered as in Table 1, and IG-FWI / pixel MSE beside the paper's ratio. Then the
paper's two claims, answered from the finished cells of each reading:

1. "CR-FWI beats pixel FWI from a constant start": yes when all four networks end with a
   lower MSE than pixel FWI, partly when some do, no when none does;
2. "IG-FWI is best or near best in the degraded-data cells" (8σ0 noise, 6 Hz high-pass,
   5 shots): near best is rank 1 or 2 of 5 by MSE; yes when it holds in all three cells,
   partly in one or two, no in none.

Writes ``READINGS.md`` next to this file::

    python bench/protocol/readings.py
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from scipy.stats import spearmanr

from devito_crfwi.experiments.paper import METHODS, PAPER_TABLE1

HERE = Path(__file__).resolve().parent
READINGS = {  # label -> results file, in the order of the tables
    "earlier engine, full batch": "paper_protocol_results.json",
    "corrected engine, full batch": "paper_protocol_v2_results.json",
    "corrected engine, one-shot": "paper_protocol_oneshot_results.json",
    "corrected engine, one-shot (Overthrust)": "paper_protocol_oneshot_overthrust_results.json",
}
CLAIMED = ("earlier engine, full batch", "corrected engine, one-shot")
"""The readings that run every Marmousi cell (the control runs the smooth cell only)."""
ORDER = ("pixel", "inr", "lowrank", "grid", "ig")  # the columns
CELLS = [("marmousi", s) for s in ("smooth", "noise", "nolowfreq", "sparse", "constant")] + [
    ("overthrust", s) for s in ("smooth", "constant")]
DEGRADED = ("noise", "nolowfreq", "sparse")
SCENARIO_NAMES = {"smooth": "smooth", "noise": "8σ0 noise", "nolowfreq": "6 Hz high-pass",
                  "sparse": "5 shots", "constant": "constant"}


def load(folder: Path = HERE) -> dict[str, dict[tuple[str, str], dict[str, dict]]]:
    """Per reading, per (model, scenario), per method: the run's summary (finished runs)."""
    out: dict[str, dict[tuple[str, str], dict[str, dict]]] = {}
    for label, name in READINGS.items():
        path = folder / name
        runs = json.loads(path.read_text()) if path.is_file() else []
        for run in runs:
            if math.isfinite(run.get("mse", math.nan)):
                cell = out.setdefault(label, {}).setdefault((run["model"], run["scenario"]), {})
                cell[run["method"]] = run
    return out


def agreement(mse: dict[str, float], paper: dict[str, float]) -> tuple[float, str]:
    """(Spearman ρ over all five methods, NaN unless all have finished; "agreeing/pairs" over
    the methods that have)."""
    common = [m for m in ORDER if m in mse]
    pairs = list(itertools.combinations(common, 2))
    agree = sum((mse[a] < mse[b]) == (paper[a] < paper[b]) for a, b in pairs)
    rho = (float(spearmanr([mse[m] for m in ORDER], [paper[m] for m in ORDER]).statistic)
           if len(common) == len(ORDER) else math.nan)
    return rho, f"{agree}/{len(pairs)}" if pairs else "–"


def beats_pixel(mse: dict[str, float]) -> str | None:
    """Claim 1 in one cell: "yes", "partly (not: ...)" or "no"; None until all five have
    finished."""
    if len(mse) < len(ORDER):
        return None
    losers = [METHODS[m] for m in ORDER[1:] if mse[m] >= mse["pixel"]]
    if not losers:
        return "yes"
    return f"partly (not: {', '.join(losers)})" if len(losers) < len(ORDER) - 1 else "no"


def ig_rank(mse: dict[str, float]) -> int | None:
    """IG-FWI's rank by MSE (1 = best) among the five; None until all have finished."""
    if len(mse) < len(ORDER):
        return None
    return 1 + sum(mse[m] < mse["ig"] for m in ORDER if m != "ig")


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def cell_table(model: str, scenario: str, readings: dict) -> list[str]:
    """The markdown rows of one cell: a row per reading that has any of its runs, and the
    paper's."""
    paper = PAPER_TABLE1[(model, scenario)]
    head = ("| reading | " + " | ".join(METHODS[m] for m in ORDER)
            + " | Spearman ρ | pairs as in Table 1 | IG / pixel |")
    lines = [head, "|" + " --- |" * (len(ORDER) + 4)]
    for label, cells in readings.items():
        runs = cells.get((model, scenario), {})
        if not runs:
            continue
        mse = {m: runs[m]["mse"] for m in runs}
        rho, pairs = agreement(mse, paper)
        ratio = mse["ig"] / mse["pixel"] if {"ig", "pixel"} <= set(mse) else None
        best = min(mse, key=mse.get)
        row = [f"**{_num(mse[m])}**" if m == best else _num(mse.get(m)) for m in ORDER]
        lines.append(f"| {label} | " + " | ".join(row)
                     + f" | {_num(rho, 2)} | {pairs} | "
                     + ("–" if ratio is None else f"{ratio:.2f}") + " |")
    best = min(paper, key=paper.get)
    row = [f"**{paper[m]:.4g}**" if m == best else f"{paper[m]:.4g}" for m in ORDER]
    lines.append("| paper (Table 1) | " + " | ".join(row)
                 + f" | | | {paper['ig'] / paper['pixel']:.2f} |")
    return lines


def claims(readings: dict) -> list[str]:
    """The two claims per reading, with the numbers they rest on."""
    lines = ["| reading | CR-FWI beats pixel FWI from the constant start | "
             "IG-FWI best or near best (rank of 5) with noise / high-pass / 5 shots |",
             "| --- | --- | --- |"]
    for label in CLAIMED:
        cells = readings.get(label)
        if not cells:
            continue
        mse = {s: {m: r["mse"] for m, r in cells.get(("marmousi", s), {}).items()}
               for s in ("constant", *DEGRADED)}
        first = beats_pixel(mse["constant"])
        lines.append(f"| {label} | {first or 'pending'} | {ig_near_best(mse)} |")
    paper = {s: PAPER_TABLE1[("marmousi", s)] for s in ("constant", *DEGRADED)}
    lines.append(f"| paper (Table 1) | {beats_pixel(paper['constant'])} | "
                 f"{ig_near_best(paper)} |")
    return lines


def ig_near_best(mse: dict[str, dict[str, float]]) -> str:
    """Claim 2 from the degraded cells' MSE per method: "yes", "partly", "no" or "pending",
    with IG-FWI's rank in each cell."""
    ranks = [ig_rank(mse[s]) for s in DEGRADED]
    done = [r for r in ranks if r is not None]
    near = sum(r <= 2 for r in done)
    answer = ("pending" if len(done) < len(DEGRADED)
              else "yes" if near == len(DEGRADED) else "partly" if near else "no")
    return f"{answer} ({' / '.join('–' if r is None else str(r) for r in ranks)})"


def compute(readings: dict) -> list[str]:
    """Worker-hours per reading and method over its finished runs (one thread each)."""
    lines = ["| reading | runs finished | " + " | ".join(METHODS[m] for m in ORDER)
             + " | total |", "|" + " --- |" * (len(ORDER) + 3)]
    for label, cells in readings.items():
        hours = {m: sum(runs[m]["wall_s"] for runs in cells.values() if m in runs) / 3600
                 for m in ORDER}
        count = sum(len(runs) for runs in cells.values())
        lines.append(f"| {label} | {count} | " + " | ".join(f"{hours[m]:.1f}" for m in ORDER)
                     + f" | {sum(hours.values()):.1f} |")
    return lines


def main(folder: Path = HERE) -> Path:
    readings = load(folder)
    parts = ["# The protocol's readings side by side",
             "",
             "Written by `bench/protocol/readings.py` from the runners' result files; rerun it "
             "as runs finish. MSE in (km/s)², the lowest per row in bold. Spearman ρ needs all "
             "five methods of a cell; the pairs column counts the finished ones.",
             ""]
    for model, scenario in CELLS:
        rows = cell_table(model, scenario, readings)
        if len(rows) > 3:  # some reading has run it
            parts += [f"## {model.capitalize()}, {SCENARIO_NAMES[scenario]}", "", *rows, ""]
    parts += ["## The paper's claims", "",
              "Near best: rank 1 or 2 of the five methods by MSE. \"pending\": a cell the claim "
              "rests on has unfinished runs.", "", *claims(readings), "",
              "## Compute (worker-hours, one thread per run, on a shared 2-core machine)", "",
              *compute(readings), ""]
    path = folder / "READINGS.md"
    path.write_text("\n".join(parts))
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
