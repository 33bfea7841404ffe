"""The paper's facts the harness compares against: method names and Table 1 (arXiv 2603.22362)."""

from __future__ import annotations

from ..representations import REGISTRY

__all__ = ["METHODS", "PAPER_TABLE1", "run_id"]

METHODS = {name: cls.paper_method for name, cls in REGISTRY.items() if cls.paper_method}
"""Method name (representation) -> the paper's name (each class's ``paper_method``)."""

PAPER_TABLE1: dict[tuple[str, str], dict[str, float]] = {
    ("marmousi", "smooth"): {"pixel": .2132, "inr": .1907, "grid": .1427, "lowrank": .1638,
                             "ig": .1423},
    ("marmousi", "constant"): {"pixel": 1.1522, "inr": .9474, "grid": 2.2266, "lowrank": .2893,
                               "ig": .2961},
    ("marmousi", "noise"): {"pixel": .5422, "inr": .3374, "grid": .2990, "lowrank": .2553,
                            "ig": .2151},
    ("marmousi", "nolowfreq"): {"pixel": .4975, "inr": .3358, "grid": .3322, "lowrank": .2276,
                                "ig": .1846},
    ("marmousi", "sparse"): {"pixel": .4730, "inr": .3483, "grid": .3338, "lowrank": .2641,
                             "ig": .1654},
    ("overthrust", "smooth"): {"pixel": .0592, "inr": .0683, "grid": .0613, "lowrank": .0548,
                               "ig": .0587},
    ("overthrust", "constant"): {"pixel": 1.3364, "inr": .6432, "grid": 1.2887,
                                 "lowrank": .1592, "ig": .5724},
}
"""MSE in (km/s)² of the paper's Table 1 (lower is better; ADFWI = conventional FWI)."""


def run_id(model: str, scenario: str, method: str) -> str:
    return f"{model}__{scenario}__{method}"
