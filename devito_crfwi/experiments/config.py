"""Benchmark configurations: one TOML file names models, scenarios and methods.

Read with :func:`devito_crfwi.io.config.read_toml`, so the file and table are named in every
error; a frequency schedule spells the full band ``"full"``, as ``devito-crfwi invert`` does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io.config import check_table, read_toml

__all__ = ["load_config"]

# The keys of each table and their kinds (devito_crfwi.io.config.KINDS).
_SCENARIO_SCHEMA = {"initial": "str", "sigma": "number", "noise_snr_db": "number",
                    "noise_sigma": "number", "highpass_hz": "number",
                    "shot_fraction": "number", "shots": "int_list", "iterations": "int",
                    "epochs": "int", "frequency_schedule": "schedule"}
_MODEL_SCHEMA = {"spacing": "number", "f0": "number", "t_max": "number", "n_shots": "int",
                 "n_receivers": "int", "constant": "number", "linear": "number_pair",
                 "bounds": "number_pair", "shape": "int_pair", "crop_x": "number_pair",
                 "dt": "number", "first_shot_column": "int", "shot_step_columns": "int",
                 "source_depth": "number", "receiver_depth": "number"}
_METHOD_SCHEMA = {"representation": "str", "lr": "number", "options": "table", "loss": "str"}
_TOP_SCHEMA = {"benchmark": "table", "models": "table", "scenarios": "table",
               "methods": "table"}
_BENCH_SCHEMA = {"name": "str", "data_dir": "str", "output_dir": "str", "results": "str",
                 "models": "str_list", "scenarios": "str_list", "methods": "str_list",
                 "iterations": "int", "epochs": "int", "shots_per_iteration": "int",
                 "shot_order": "str", "seed": "int",
                 "ntk_k": "int", "ntk_shots": "int", "checkpoint_every": "int",
                 "engine": "table", "notes": "str", "order": "list", "reading": "str"}


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a benchmark TOML; relative paths become relative to the file."""
    path = Path(path)
    cfg = read_toml(path)
    check_table(cfg, _TOP_SCHEMA, str(path))
    bench = dict(cfg.get("benchmark", {}))
    check_table(bench, _BENCH_SCHEMA, f"{path} [benchmark]")
    for key in ("models", "scenarios", "methods"):
        names = bench.get(key) or list(cfg.get(key, {}))
        if not names:
            raise ValueError(f"{path}: [benchmark] {key} is empty")
        for name in names:
            if name not in cfg.get(key, {}):
                raise ValueError(f"{path}: {key[:-1]} {name!r} has no [{key}.{name}] table")
        bench[key] = list(names)
    for pair in bench.get("order", []):
        if (len(pair) != 2 or pair[0] not in bench["models"]
                or pair[1] not in bench["scenarios"]):
            raise ValueError(f"{path}: [benchmark] order entries must be [model, scenario] of "
                             f"the benchmark's models and scenarios, got {pair!r}")
    for name, table in cfg.get("models", {}).items():
        check_table(table, _MODEL_SCHEMA, f"{path} [models.{name}]")
    for name, table in cfg.get("scenarios", {}).items():
        check_table(table, _SCENARIO_SCHEMA, f"{path} [scenarios.{name}]")
        if table.get("initial", "smooth") not in ("smooth", "constant", "linear"):
            raise ValueError(f"{path} [scenarios.{name}]: initial must be smooth, constant or "
                             f"linear, got {table['initial']!r}")
    for name, table in cfg.get("methods", {}).items():
        check_table(table, _METHOD_SCHEMA, f"{path} [methods.{name}]")
        if "loss" in table:
            from ..inversion.losses import LOSSES

            if table["loss"] not in LOSSES:
                raise ValueError(f"{path} [methods.{name}]: loss must be one of "
                                 f"{sorted(LOSSES)}, got {table['loss']!r}")
    base = path.resolve().parent
    for key, default in (("output_dir", "runs"), ("results", "RESULTS.md"),
                         ("data_dir", "../../../shared/data/models")):
        bench[key] = str((base / bench.get(key, default)).resolve())
    if "reading" in bench:
        bench["reading"] = str((base / bench["reading"]).resolve())
    bench.setdefault("name", path.stem)
    for where, table in [("[benchmark]", bench)] + [
            (f"[scenarios.{n}]", t) for n, t in cfg.get("scenarios", {}).items()]:
        if "iterations" in table and "epochs" in table:
            raise ValueError(f"{path} {where}: give iterations or epochs, not both")
    if bench.get("shot_order", "random") not in ("random", "epoch"):
        raise ValueError(f"{path} [benchmark]: shot_order must be random or epoch, got "
                         f"{bench['shot_order']!r}")
    if "epochs" not in bench:
        bench.setdefault("iterations", 50)
    bench.setdefault("shots_per_iteration", 2)
    bench.setdefault("seed", 0)
    bench.setdefault("ntk_k", 0)
    bench.setdefault("checkpoint_every", 10)
    bench["config_path"] = str(path.resolve())
    bench["config_text"] = path.read_text()
    return {"benchmark": bench, "models": cfg.get("models", {}),
            "scenarios": cfg.get("scenarios", {}), "methods": cfg.get("methods", {})}


# -- models and data -------------------------------------------------------------------------
