"""Config-driven benchmark of FWI representations on the paper's scenarios (arXiv 2603.22362).

A TOML configuration names models, scenarios and methods; every (model, scenario, method) cell
is one :class:`~devito_crfwi.CRFWIProblem` run with the same budget of wave-equation solves
(``iterations`` x ``shots_per_iteration``), the water layer held fixed and fixed seeds. Each
finished run is written atomically to ``<output_dir>/runs/<model>__<scenario>__<method>.nc``
(the final model and the histories) and ``.json`` (the summary); a rerun skips cells that have
their ``.json``, and an interrupted cell resumes from its checkpoint
(``<output_dir>/checkpoints/<cell>/``, removed when the cell finishes; a failed cell keeps it).
A cell that raises is reported on stderr with its traceback and the next cells run; the run
then ends with :class:`CellsFailedError` naming every failed cell (a rerun retries them).
The report (:mod:`devito_crfwi.experiments.report`) turns the summaries into a markdown table
and figures.

Scenarios (``[scenarios.<name>]`` keys):

- ``initial``: "smooth" (Gaussian, ``sigma`` m, water kept), "constant" (``constant`` m/s of the
  model's table below the water), or "linear" (``linear = [v_top, v_bottom]`` below the sea
  floor).
- ``noise_snr_db``: add white Gaussian noise to the observed data at this SNR (seeded).
- ``highpass_hz``: remove the low frequencies: observed *and* modelled data pass through the same
  zero-phase Butterworth high-pass (:func:`~devito_crfwi.inversion.filters.butterworth`), so the
  misfit never sees them.
- ``noise_sigma``: add white Gaussian noise of this many times the clean data's standard
  deviation (the paper's "8 sigma0": ``noise_sigma = 8``; seeded).
- ``shot_fraction``: keep every ``1/shot_fraction``-th shot (e.g. 0.25: a quarter); or
  ``shots``: the indices of the shots kept.
- ``iterations``: this scenario's number of iterations (default ``[benchmark] iterations``);
  or ``epochs``: passes over the scenario's shots, ``ceil(n_shots / shots_per_iteration)``
  iterations each (``[benchmark]`` takes either too).
- ``frequency_schedule``: multiscale inversion, ``[[cutoff_hz, iterations], ...]`` low-passing
  observed and modelled data alike (see :class:`~devito_crfwi.CRFWIProblem`); the cutoff
  ``"full"`` means the full band (TOML has no null), as in ``devito-crfwi invert``.

``[benchmark] shot_order``: "random" (default) or "epoch", as
:class:`~devito_crfwi.CRFWIProblem` takes it ("epoch": every shot once per pass).

Methods (``[methods.<name>]`` keys): ``representation`` (default the method's name), ``lr``,
``options`` (passed to the representation), and ``loss``, the misfit the method minimises (a
name in :data:`~devito_crfwi.inversion.losses.LOSSES`, default "l2"). Every run is scored by the
scenario's relative L2 misfit, whatever its loss.
"""


from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .. import initial_models as _models
from .. import metrics as _metrics
from ..inversion.filters import butterworth
from ..inversion.losses import LOSSES
from ..io.atomic import release_lock, try_lock, write_atomic
from ..io.config import FULL_BAND
from ..representations import REGISTRY, default_bounds
from .config import load_config
from .paper import METHODS, PAPER_TABLE1, run_id
from .report import write_report
from .scenarios import (
    HighpassLoss,
    add_noise,
    initial_model,
    prepare_model,
    survey_of,
    synthetic_model,
)

__all__ = ["METHODS", "PAPER_TABLE1", "Benchmark", "CellsFailedError", "add_noise",
           "initial_model", "load_config", "prepare_model", "run_id", "run_workers",
           "synthetic_model"]


@cache
def code_version() -> str:
    """The package version and, in a git checkout, its commit (which code made a run).

    Read once per process (a :class:`Benchmark` reads it when built): a run's record names the
    code its process imported, not a commit checked out while it ran."""
    from importlib.metadata import version

    __version__ = version("devito-crfwi")
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit.stdout.strip()}"


class CellsFailedError(RuntimeError):
    """Cells of a benchmark raised; the others ran. The message names each cell and its
    error; their checkpoints are kept, so a rerun of the same command retries them."""


class Benchmark:
    """The cells of a benchmark config, run one after the other; finished ones are skipped.

    Several processes may run the same config into the same ``output_dir`` at once (e.g. one
    per core, with ``OMP_NUM_THREADS=1``): each claims a cell with a file lock before running
    it, and the others skip it; a killed process's lock is released by the kernel.

    Parameters
    ----------
    config : dict or path
        A config from :func:`load_config`, or the TOML path.
    output_dir : path, optional
        Overrides ``[benchmark] output_dir``.
    results : path, optional
        Overrides ``[benchmark] results`` (the markdown report; figures go next to it).
    """

    def __init__(self, config, output_dir: str | os.PathLike | None = None,
                 results: str | os.PathLike | None = None) -> None:
        self.config = config if isinstance(config, dict) else load_config(config)
        self.bench = dict(self.config["benchmark"])
        if results is not None:
            self.bench["results"] = str(results)
        self.output_dir = Path(output_dir or self.bench["output_dir"])
        self.runs_dir = self.output_dir / "runs"
        self._cache: dict[str, tuple] = {}
        code_version()  # pinned now, while the checkout is the code this process imported

    def cells(self) -> list[tuple[str, str, str]]:
        """(model, scenario, method) in run order.

        ``[benchmark] order`` lists (model, scenario) pairs to run first, in that order; the
        remaining pairs follow, models then scenarios. Methods vary fastest.
        """
        b = self.bench
        pairs = [tuple(p) for p in b.get("order", [])]
        pairs += [(m, s) for m in b["models"] for s in b["scenarios"] if (m, s) not in pairs]
        return [(m, s, k) for m, s in pairs for k in b["methods"]]

    def is_done(self, cell) -> bool:
        return (self.runs_dir / f"{run_id(*cell)}.json").is_file()

    def _truth(self, model: str):
        if model not in self._cache:
            from ..bridge.modelling import simulate

            spec = self.config["models"][model]
            vp = prepare_model(model, spec, self.bench["data_dir"])
            survey = survey_of(vp, spec)
            cache = self.output_dir / "cache" / f"{model}_observed.nc"
            if cache.is_file():
                observed = xr.load_dataarray(cache)
            else:
                cache.parent.mkdir(parents=True, exist_ok=True)
                observed = simulate(vp, survey, progress=False,
                                    **self.bench.get("engine", {}))
                write_atomic(cache, lambda p: observed.to_netcdf(p))
            self._cache[model] = (vp, survey, observed)
        return self._cache[model]

    def _scenario_data(self, model: str, scenario: str):
        """(true vp, survey, observed ndarray, relative L2 misfit) of a scenario."""
        vp, survey, observed = self._truth(model)
        sc = self.config["scenarios"][scenario]
        data = np.asarray(observed, dtype=np.float32)
        fraction = float(sc.get("shot_fraction", 1.0))
        keep = None
        if "shots" in sc:
            keep = np.asarray(sc["shots"], dtype=int)
            if keep.size == 0 or keep.min() < 0 or keep.max() >= survey.n_shots:
                raise ValueError(f"scenario {scenario!r}: shots must be indices in "
                                 f"0..{survey.n_shots - 1}, got {sc['shots']}")
        elif fraction < 1.0:
            keep = np.arange(0, survey.n_shots, max(1, round(1.0 / fraction)))
        if keep is not None:
            survey = survey.subset([int(i) for i in keep])
            data = data[keep]
        seed = int(self.bench["seed"]) + 1
        if "noise_snr_db" in sc:
            data = add_noise(data, float(sc["noise_snr_db"]), seed)
        if "noise_sigma" in sc:
            data = add_noise(data, seed=seed, sigma=float(sc["noise_sigma"]))
        if "highpass_hz" in sc:
            data = butterworth(torch.from_numpy(data), float(sc["highpass_hz"]), survey.dt,
                               kind="highpass").numpy()
        return vp, survey, data, self._scenario_loss(scenario, survey.dt)

    def _scenario_loss(self, scenario: str, dt: float, base: str = "l2") -> Any:
        """The loss ``base`` (a name in LOSSES), high-passed like the data where the scenario
        high-passes them; dt in s."""
        sc = self.config["scenarios"][scenario]
        return HighpassLoss(float(sc["highpass_hz"]), dt, base) if "highpass_hz" in sc else base

    def problem_for(self, cell):
        """(problem, true vp, initial vp, data, misfit, iterations) of a cell, as it is run.

        The problem minimises the method's loss (default l2); ``misfit`` is the scenario's
        relative L2, which every method's final model is scored by.
        """
        from ..inversion import CRFWIProblem

        model, scenario, method = cell
        b = self.bench
        meth = self.config["methods"][method]
        vp, survey, data, misfit = self._scenario_data(model, scenario)
        loss = self._scenario_loss(scenario, survey.dt, meth.get("loss", "l2"))
        spec = self.config["models"][model]
        initial = initial_model(vp, self.config["scenarios"][scenario], spec)
        rep = meth.get("representation", method)
        # From the config or the initial model, never from the true model.
        lo, hi = spec.get("bounds", default_bounds(np.asarray(initial)))
        spi = min(int(b["shots_per_iteration"]), survey.n_shots)
        iterations = self._iterations(scenario, survey.n_shots, spi)
        stages = self.config["scenarios"][scenario].get("frequency_schedule", [])
        schedule = [(None if c == FULL_BAND else float(c), int(n)) for c, n in stages]
        problem = CRFWIProblem(
            data, survey, initial, rep, loss=loss, lr=meth.get("lr"),
            shots_per_iteration=spi, shot_order=b.get("shot_order", "random"),
            frequency_schedule=schedule or None, bounds=(lo, hi),
            water_mask=_models.water_mask(vp), true_model=vp, seed=int(b["seed"]),
            representation_options=meth.get("options", {}), **b.get("engine", {}),
        )
        return problem, vp, initial, data, misfit, iterations

    def _iterations(self, scenario: str, n_shots: int, spi: int) -> int:
        """The cell's iterations: the scenario's, else the benchmark's; ``epochs`` counts
        passes over the scenario's shots (ceil(n_shots / shots_per_iteration) iterations
        each)."""
        for table in (self.config["scenarios"][scenario], self.bench):
            if "iterations" in table:
                return int(table["iterations"])
            if "epochs" in table:
                return int(table["epochs"]) * -(-n_shots // spi)
        raise AssertionError("load_config sets iterations or epochs")

    def run_cell(self, cell, *, progress: bool = False) -> dict[str, Any]:
        """Run one (model, scenario, method) cell and write its .nc and .json."""
        model, scenario, method = cell
        b = self.bench
        problem, vp, initial, data, misfit_fn, iterations = self.problem_for(cell)
        checkpoints = self.output_dir / "checkpoints" / run_id(*cell)
        rep = self.config["methods"][method].get("representation", method)
        spi = problem.shots_per_iteration
        ntk_k = int(b.get("ntk_k", 0))
        spectra = {}
        if ntk_k:
            spectra["ntk_start"] = self._ntk(problem, rep, ntk_k)
        start = time.perf_counter()
        result = problem.solve(iterations,
                               checkpoint_dir=checkpoints,
                               checkpoint_every=int(b["checkpoint_every"]), resume=True,
                               progress=progress)
        wall = time.perf_counter() - start
        misfit = self._misfit(problem, data, misfit_fn)
        if ntk_k:
            spectra["ntk_end"] = self._ntk(problem, rep, ntk_k)
        final = _metrics.all_metrics(result["vp"], vp, units="km/s")
        initial_scores = _metrics.all_metrics(initial, vp, units="km/s")
        summary = {
            "model": model, "scenario": scenario, "method": method, "representation": rep,
            "mse": final["mse"], "rmse": final["rmse"], "ssim": final["ssim"],
            "psnr": final["psnr"], "misfit": misfit,
            "wall_s": float(np.sum(result["time"].values)), "wall_s_this_process": wall,
            "iterations": int(result.attrs["iterations"]), "shots_per_iteration": spi,
            "wave_solves": int(result.attrs["iterations"]) * spi,
            "initial_mse": initial_scores["mse"], "initial_ssim": initial_scores["ssim"],
            "lr": problem.lr, "shape": list(vp.shape), "n_shots": problem.survey.n_shots,
            "frequency_schedule": [list(stage) for stage in problem.frequency_schedule],
            "ntk_k": ntk_k, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "code": code_version(),
        }
        summary |= {k: [float(x) for x in v] for k, v in spectra.items()}
        ds = result[["vp", "vp_initial", "loss", "time"]].copy()
        ds["mse_km2"] = result["mse"] * 1e-6
        ds["mse_km2"].attrs = {"units": "(km/s)^2"}
        ds["ssim"] = result["ssim"]
        ds["vp_true"] = xr.DataArray(np.asarray(vp, np.float32), dims=("x", "z"))
        for name, values in spectra.items():
            ds[name] = xr.DataArray(np.asarray(values), dims=("k",))
        ds.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, int | float | str)}
        ds.attrs["summary"] = json.dumps(summary)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.runs_dir / f"{run_id(*cell)}.nc", lambda p: ds.to_netcdf(p))
        write_atomic(self.runs_dir / f"{run_id(*cell)}.json",
                      lambda p: p.write_text(json.dumps(summary, indent=1)))
        # The .json marks the cell done and is never resumed from: its checkpoint is a leftover.
        shutil.rmtree(checkpoints, ignore_errors=True)
        return summary

    @staticmethod
    def _misfit(problem, data: np.ndarray, loss) -> float:
        """Relative L2 misfit of the final model over all shots (high-passed like the loss)."""
        with torch.no_grad():
            pred = problem.operator(problem.representation().detach())
            obs = torch.from_numpy(data).to(pred.dtype)
            fn = loss if callable(loss) else LOSSES[loss]
            return float(fn(pred, obs))

    def _ntk(self, problem, representation: str, k: int) -> np.ndarray:
        from ..ntk import spectrum

        n = problem.survey.n_shots
        n_probe = int(self.bench.get("ntk_shots", 1))
        shots = sorted({int(i) for i in np.linspace(0, n - 1, n_probe)})
        vp = problem.current_model()
        encoding = REGISTRY[representation].encoding_parameters
        return np.asarray(spectrum(problem.operator, vp, problem.representation, k=k,
                                   shots=shots, parameters=encoding, seed=int(self.bench["seed"])))

    def run(self, *, progress: bool = True, inner_progress: bool = False,
            report: bool = True) -> list[dict[str, Any]]:
        """Run every unfinished cell (skipping finished ones), then write the report."""
        from tqdm.auto import tqdm

        cells = self.cells()
        todo = [c for c in cells if not self.is_done(c)]
        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc="benchmark",
                   unit="run", disable=not progress)
        out = []
        failed: dict[str, str] = {}
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            for cell in todo:
                lock = self.runs_dir / f".{run_id(*cell)}.lock"
                fd = None if self.is_done(cell) else try_lock(lock)
                if fd is None:  # finished, or another process runs it
                    continue
                try:
                    # Re-checked under the lock: its holder writes the result before it lets go.
                    if self.is_done(cell):
                        continue
                    bar.set_postfix_str(run_id(*cell), refresh=True)
                    try:
                        out.append(self.run_cell(cell, progress=inner_progress))
                    except FloatingPointError as err:  # a diverged run is a result too
                        out.append(self._failed(cell, err))
                    except Exception as err:  # noqa: BLE001 (one cell's error spares the rest)
                        failed[run_id(*cell)] = f"{type(err).__name__}: {err}"
                        traceback.print_exc()
                        print(f"benchmark: run {run_id(*cell)} failed (above); its checkpoint "
                              "is kept and the next runs go on", file=sys.stderr, flush=True)
                finally:
                    release_lock(lock, fd)
                bar.n = sum(self.is_done(c) for c in cells)  # other workers' runs count too
                bar.refresh()
                if report:
                    self.report()
        finally:
            bar.close()
        if report:
            self.report()
        if failed:
            raise CellsFailedError(
                f"{len(failed)} run(s) failed, the others ran; fix and rerun the same command "
                "to retry them: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        return out

    def _failed(self, cell, err) -> dict[str, Any]:
        model, scenario, method = cell
        summary = {"model": model, "scenario": scenario, "method": method,
                   "error": str(err), "mse": float("nan")}
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.runs_dir / f"{run_id(*cell)}.json",
                      lambda p: p.write_text(json.dumps(summary, indent=1)))
        return summary

    def summaries(self) -> list[dict[str, Any]]:
        """The summaries of the finished cells of this config, in config order."""
        out = []
        for cell in self.cells():
            path = self.runs_dir / f"{run_id(*cell)}.json"
            if path.is_file():
                out.append(json.loads(path.read_text()))
        return out

    def report(self) -> Path:
        return write_report(self)

    @staticmethod
    def machine() -> str:
        return (f"{platform.node() or 'host'}: {platform.processor() or platform.machine()}, "
                f"{os.cpu_count()} cores, Python {platform.python_version()}, "
                f"torch {torch.__version__}")


# -- command line ----------------------------------------------------------------------------


def run_workers(bench: Benchmark, argv: list[str], n: int, *, progress: bool = True,
                poll_s: float = 2.0) -> None:
    """Run ``devito-crfwi benchmark *argv`` in ``n`` single-threaded worker processes.

    The workers share the output folder through the cell locks. This process simulates and
    caches the observed data first (so no two workers do it, and its warnings show once), then
    only shows the progress and waits. Interrupting it stops the workers (their file locks go
    with them; a rerun continues).
    """
    from tqdm.auto import tqdm

    if n < 1:
        raise ValueError(f"--workers must be at least 1, got {n}")
    for model in bench.bench["models"]:
        bench._truth(model)
    # One thread each; the setup's UserWarnings (e.g. dispersion) were shown here already.
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore::UserWarning")
    command = [sys.executable, "-c", "from devito_crfwi.cli import main; raise SystemExit(main())",
               "benchmark", *argv, "--no-progress"]
    cells = bench.cells()

    def done() -> int:
        return sum(bench.is_done(c) for c in cells)

    bar = tqdm(total=len(cells), initial=done(), desc=f"benchmark ({n} workers)", unit="run",
               disable=not progress)
    workers: list[subprocess.Popen] = []
    try:
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
                   for _ in range(n)]
        while any(w.poll() is None for w in workers):
            time.sleep(poll_s)
            finished = done()
            if finished != bar.n:  # a redraw every poll would flood a log file (not a tty)
                bar.n = finished
                bar.refresh()
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
        for w in workers:
            w.wait()
        bar.n = done()
        bar.close()
    failed = [w.returncode for w in workers if w.returncode]
    if failed:
        raise CellsFailedError(f"{len(failed)} benchmark worker(s) failed (exit codes "
                               f"{failed}); their errors are on stderr above")
