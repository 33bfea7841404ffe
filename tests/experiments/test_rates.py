"""Rates picked by data misfit (experiments.rates) on hand-written run summaries."""

from __future__ import annotations

import json

import pytest

from devito_crfwi.experiments.rates import (
    at_picked_rates,
    pick_in_each_cell,
    pick_rates,
    picked_rates_report,
    rate_variants,
)
from devito_crfwi.experiments.runner import Benchmark

HEAD = """[benchmark]
name = "{name}"
models = ["marmousi"]
scenarios = {scenarios}
methods = {methods}
[models.marmousi]
[scenarios.smooth]
initial = "smooth"
[scenarios.noise]
initial = "linear"
noise_sigma = 8.0
"""


def _bench(tmp_path, name, scenarios, methods: dict[str, tuple[str, float, str]], runs):
    """A config of ``methods`` (name -> representation, lr, output) and its finished runs
    (``runs``: (scenario, method, misfit, mse))."""
    text = HEAD.format(name=name, scenarios=json.dumps(scenarios),
                       methods=json.dumps(list(methods)))
    for method, (rep, lr, output) in methods.items():
        text += (f'[methods.{method}]\nrepresentation = "{rep}"\nlr = {lr}\n'
                 f'options = {{ output = "{output}" }}\n')
    (tmp_path / f"{name}.toml").write_text(text)
    bench = Benchmark(tmp_path / f"{name}.toml", output_dir=tmp_path / name)
    bench.runs_dir.mkdir(parents=True)
    for scenario, method, misfit, mse in runs:
        summary = {"model": "marmousi", "scenario": scenario, "method": method,
                   "lr": methods[method][1], "misfit": misfit, "mse": mse, "ssim": 0.5}
        (bench.runs_dir / f"marmousi__{scenario}__{method}.json").write_text(json.dumps(summary))
    return bench


@pytest.fixture
def benches(tmp_path):
    protocol = _bench(tmp_path, "protocol", ["smooth", "noise"],
                      {"pixel": ("pixel", 5.0, "additive"), "ig": ("ig", 1e-4, "additive")},
                      [("smooth", "pixel", 0.01, 0.24), ("smooth", "ig", 0.007, 0.17),
                       ("noise", "pixel", 0.5, 0.29), ("noise", "ig", 0.4, 0.21)])
    ablation = _bench(tmp_path, "ablation", ["smooth", "noise"],
                      {"ig_lr10": ("ig", 1e-3, "additive"), "ig_lr3": ("ig", 3e-4, "additive"),
                       "ig_bounded": ("ig", 1e-3, "bounded")},
                      # lr10 fits the data best but has the worse MSE: the pick must follow
                      # the misfit; the bounded map is not a rate variant, whatever its misfit
                      [("smooth", "ig_lr10", 0.001, 0.20), ("smooth", "ig_lr3", 0.003, 0.10),
                       ("smooth", "ig_bounded", 0.0001, 0.05), ("noise", "ig_lr10", 0.3, 0.19),
                       ("noise", "ig_lr3", 0.35, 0.15)])
    return protocol, ablation


def test_variants_are_the_same_method_at_another_rate(benches):
    variants = rate_variants(benches)
    assert set(variants["run"]) == {"pixel", "ig", "ig_lr10", "ig_lr3"}
    assert set(variants.loc[variants["run"].str.startswith("ig"), "method"]) == {"ig"}


def test_rate_is_picked_by_data_misfit_not_by_mse(benches):
    variants = rate_variants(benches)
    picked = pick_rates(variants, "marmousi", "smooth")
    assert picked == {"pixel": 5.0, "ig": pytest.approx(1e-3)}
    chosen = at_picked_rates(variants, picked).set_index(["scenario", "method"])
    assert chosen.loc[("noise", "ig"), "run"] == "ig_lr10"
    assert chosen.loc[("noise", "ig"), "mse"] == 0.19
    assert chosen.loc[("smooth", "pixel"), "run"] == "pixel"
    assert len(chosen) == 4
    with pytest.raises(ValueError, match="reference cell"):
        pick_rates(variants, "marmousi", "constant")


def test_report_names_the_picks_the_edge_and_what_is_missing(benches, tmp_path):
    protocol, ablation = benches
    (ablation.runs_dir / "marmousi__noise__ig_lr10.json").unlink()
    md = picked_rates_report([protocol, ablation], "marmousi", "smooth")
    assert "| IG-FWI | 0.001 | 0.001 | 0.2 | 0.5 | ig_lr10 (ablation) | **yes** |" in md
    assert "At the edge of the rates tried" in md and "IG-FWI" in md.split("edge")[1]
    assert "Not run yet at the picked rate: marmousi noise IG-FWI (lr 0.001)." in md
    # With only the paper's rate run in the noise cell, that cell has no choice to make.
    assert md.rstrip().endswith("picked above:\n\n- none")
    # The smooth cell at the picked rates, beside Table 1: pixel 0.24, IG-FWI 0.2.
    assert "| marmousi | smooth | 0.24 / 0.2132 |" in md
    assert "| 0.2 / 0.1423 |" in md


def test_each_cell_picks_its_own_rate_by_its_data(benches):
    own = pick_in_each_cell(rate_variants(benches)).set_index(["scenario", "method"])
    # noise: ig_lr10 fits its data best (0.3) though ig_lr3 has the lower MSE (0.15)
    assert own.loc[("noise", "ig"), "run"] == "ig_lr10"
    assert own.loc[("smooth", "ig"), "run"] == "ig_lr10"
    assert len(own) == 4


def test_report_lists_the_cells_whose_own_pick_differs(benches):
    protocol, ablation = benches
    # In the noise cell the paper's rate now fits the data best: that cell keeps it.
    (protocol.runs_dir / "marmousi__noise__ig.json").write_text(json.dumps(
        {"model": "marmousi", "scenario": "noise", "method": "ig", "lr": 1e-4,
         "misfit": 0.2, "mse": 0.21, "ssim": 0.5}))
    md = picked_rates_report([protocol, ablation], "marmousi", "smooth")
    assert "- marmousi noise IG-FWI: lr 0.0001 (data misfit 0.2)" in md
    own_table = md.split("Each cell at its own pick")[1]
    assert "| marmousi | noise | 0.29 / 0.5422 |" in own_table and "| 0.21 / 0.2151 |" in own_table
