"""The paper protocol's methods at learning rates picked by data misfit.

The protocol (protocol.toml) runs every network at the paper's Adam rate of 1e-4; the
ablations (ablation.toml: smooth start, rates x3, x10 and x30; ablation_picked.toml: the other
cells at the picked rates) run the same methods at other rates. This picks each
method's rate by the lowest final data misfit in the clean smooth cell (never by the MSE
against the true model) and sets every cell run at those rates beside Table 1; then lets each
cell's own data choose between the rates run in it (the paper's and the pick). Writes
``PICKED_RATES.md`` next to this file::

    python bench/protocol/picked.py
"""

from __future__ import annotations

from pathlib import Path

from devito_crfwi.experiments.rates import picked_rates_report
from devito_crfwi.experiments.runner import Benchmark

HERE = Path(__file__).resolve().parent
CONFIGS = ("protocol.toml", "ablation.toml", "ablation_picked.toml",
           "ablation_picked_constant.toml")


def main() -> Path:
    benches = [Benchmark(HERE / name) for name in CONFIGS]
    out = HERE / "PICKED_RATES.md"
    out.write_text("# The protocol at rates picked by data misfit\n\n"
                   "Written by `bench/protocol/picked.py` from the finished runs of "
                   + ", ".join(f"`{name}`" for name in CONFIGS) + ".\n\n"
                   + picked_rates_report(benches, "marmousi", "smooth"))
    return out


if __name__ == "__main__":
    print(main())
