"""bench/protocol/readings.py: the readings' tables and the paper's two claims, on result
files written here (hand-made MSEs whose answers are known)."""

from __future__ import annotations

import json
import sys

import pytest

from devito_crfwi.experiments.paper import PAPER_TABLE1
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def readings():
    sys.path.insert(0, str(ROOT / "bench" / "protocol"))
    try:
        import readings
    finally:
        sys.path.remove(str(ROOT / "bench" / "protocol"))
    return readings


def _runs(table: dict[tuple[str, str], dict[str, float]]) -> list[dict]:
    return [{"model": model, "scenario": scenario, "method": method, "mse": mse,
             "wall_s": 3600.0} for (model, scenario), cell in table.items()
            for method, mse in cell.items()]


def test_the_claims_read_off_table_1_as_the_paper_states_them(readings):
    paper = {s: PAPER_TABLE1[("marmousi", s)] for s in ("constant", *readings.DEGRADED)}
    # From the constant start MPE-FWI (2.2266) ends above pixel FWI (1.1522), the other
    # three below; IG-FWI has the lowest MSE in each degraded cell.
    assert readings.beats_pixel(paper["constant"]) == "partly (not: MPE-FWI)"
    assert readings.ig_near_best(paper) == "yes (1 / 1 / 1)"


def test_claims_answer_yes_no_and_pending(readings):
    all_better = {"pixel": 1.0, "inr": 0.5, "lowrank": 0.6, "grid": 0.7, "ig": 0.8}
    none_better = {"pixel": 0.1, "inr": 0.5, "lowrank": 0.6, "grid": 0.7, "ig": 0.8}
    assert readings.beats_pixel(all_better) == "yes"
    assert readings.beats_pixel(none_better) == "no"
    assert readings.beats_pixel({"pixel": 1.0, "inr": 0.5}) is None  # three still running
    second = {"pixel": 1.0, "inr": 0.5, "lowrank": 0.6, "grid": 0.7, "ig": 0.55}  # rank 2
    last = {"pixel": 0.1, "inr": 0.5, "lowrank": 0.6, "grid": 0.7, "ig": 0.8}  # rank 5
    assert readings.ig_near_best({"noise": second, "nolowfreq": second,
                                  "sparse": second}) == "yes (2 / 2 / 2)"
    assert readings.ig_near_best({"noise": second, "nolowfreq": last,
                                  "sparse": last}) == "partly (2 / 5 / 5)"
    assert readings.ig_near_best({"noise": last, "nolowfreq": last,
                                  "sparse": {}}) == "pending (5 / 5 / –)"


def test_report_from_result_files(readings, tmp_path):
    # One-shot: the paper's own order in the smooth cell, half the constant cell.
    smooth = PAPER_TABLE1[("marmousi", "smooth")]
    oneshot = {("marmousi", "smooth"): {m: 2 * v for m, v in smooth.items()},
               ("marmousi", "constant"): {"pixel": 1.0, "inr": 0.9}}
    (tmp_path / readings.READINGS["corrected engine, one-shot"]).write_text(
        json.dumps(_runs(oneshot)))
    path = readings.main(tmp_path)
    text = path.read_text()
    sections = {part.split("\n", 1)[0]: part for part in text.split("## ")[1:]}
    smooth_row = sections["Marmousi, smooth"].splitlines()[4]
    # The same order as Table 1: rho 1, all 10 pairs, IG / pixel as the paper's (0.67).
    assert smooth_row.startswith("| corrected engine, one-shot |")
    assert smooth_row.endswith("| **0.285** | 1 | 10/10 | 0.67 |")  # IG lowest, in bold
    constant_row = sections["Marmousi, constant"].splitlines()[4]
    assert constant_row.endswith("| **0.9** | – | – | – | – | 1/1 | – |")  # rho waits for all
    assert "Marmousi, 5 shots" not in sections  # no reading has run it
    claims = sections["The paper's claims"]
    assert "| corrected engine, one-shot | pending | pending (– / – / –) |" in claims
    assert "earlier engine" not in text  # no result file, no rows
    assert "| corrected engine, one-shot | 7 | 2.0 | 2.0 | 1.0 | 1.0 | 1.0 | 7.0 |" in text
