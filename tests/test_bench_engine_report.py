"""bench/engine_report.py's merge of RESULTS.md: each problem's part (2-D document, "## 3-D
case", "## Paper-protocol epoch") replaced by a run of it, the others kept, in that order."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(ROOT / "bench"))  # the bench scripts import their siblings
    try:
        import engine_report
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return engine_report


TWO = "# Engine benchmark\n\ntwo-D body\n"
THREE = "## 3-D case (30 x 30 x 20 cells)\n\n### Environment\n\nthree-D body\n"
EPOCH = "## Paper-protocol epoch (13 shots, 288 x 94, free surface)\n\nepoch body\n"


def test_a_file_with_every_part_splits_and_merges_back_unchanged(report):
    old = TWO + "\n" + THREE + "\n" + EPOCH
    assert report.split(old) == {"2d": TWO.strip(), "3d": THREE.strip(),
                                 "epoch": EPOCH.strip()}
    assert report.merge(old, {}) == old


def test_a_run_of_one_part_replaces_it_and_keeps_the_others_in_order(report):
    old = TWO + "\n" + THREE  # a file from before the epoch part existed
    added = report.merge(old, {"epoch": EPOCH})
    assert added == TWO + "\n" + THREE + "\n" + EPOCH
    new_three = "## 3-D case (100 x 100 x 60 cells)\n\nnew\n"
    assert report.merge(added, {"3d": new_three}) == TWO + "\n" + new_three + "\n" + EPOCH
    assert report.merge("", {"epoch": EPOCH}) == EPOCH
