"""The Ising reproduction (docs/method.md 6.2): tabular MF-Q and Metropolis MCMC over a
temperature grid, checked against each other and against Onsager's exact solution.

Output layout::

    OUT/config.json          the experiment's settings
    OUT/results.json         ξ(T) for MF-Q, MCMC and Onsager, Tc estimates, checks
    OUT/order_parameter.png  ξ = |N↑ − N↓|/N against T: MF-Q, MCMC (both starts), Onsager
    OUT/susceptibility.png   χ(T) of both methods with the Tc estimates
    OUT/snapshots.png        final lattices below, at and above Tc (MF-Q and MCMC, seed 0)
    OUT/training.png         MF-Q's ξ over the sweeps of training at a few temperatures
    OUT/report.md            settings, table, checks against the paper, plots

Every method runs all temperatures of one seed as one batch of lattices; seeds (and the
methods) are independent jobs, run in worker processes when ``workers > 1``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mfmarl import __version__
from mfmarl.core.errors import ConfigError, require, require_choice
from mfmarl.experiments.ising.env import IsingConfig, onsager_magnetisation, onsager_tc
from mfmarl.experiments.ising.mcmc import (
    TC_ESTIMATOR,
    MagnetisationStats,
    MCMCConfig,
    magnetisation_stats,
    metropolis,
    susceptibility_peak,
)
from mfmarl.experiments.ising.report import (
    MAX_MEAN_ABS_DIFF,
    MAX_TC_DIFF,
    ONSAGER_CHECK_FRACTION,
    ONSAGER_TOLERANCE,
    TC_RANGE,
    ising_plots,
    ising_report,
)
from mfmarl.experiments.ising.tabular_mfq import TabularMFQConfig, train_tabular_mfq
from mfmarl.parallel.executor import LocalExecutor, Task, TaskResult
from mfmarl.training.rundir import (
    write_bytes_atomic,
    write_config,
    write_json_atomic,
    write_text_atomic,
)

log = logging.getLogger(__name__)

SCALES: tuple[str, ...] = ("quick", "paper")

EXPERIMENT = "ising"
DEFAULT_GRID = tuple(round(0.5 + 0.1 * i, 10) for i in range(26))
"""ξ(T) grid for λ = 1: 0.5, 0.6, …, 3.0. It is multiplied by λ (Tc ∝ λ)."""

ISING_SCALES: dict[str, dict[str, int]] = {
    "quick": {
        "mfq_warmup_sweeps": 500,
        "mfq_sweeps": 8000,
        "mfq_measure_sweeps": 6000,
        "mcmc_burn_in": 2000,
        "mcmc_sweeps": 6000,
    },
    "paper": {
        "mfq_warmup_sweeps": 1000,
        "mfq_sweeps": 40000,
        "mfq_measure_sweeps": 30000,
        "mcmc_burn_in": 10000,
        "mcmc_sweeps": 30000,
    },
}
"""Sweeps per scale. Near Tc a 20×20 lattice decorrelates in a few hundred sweeps of local
dynamics, so the quick scale holds some tens of independent samples there per seed."""


@dataclass(frozen=True)
class IsingExperiment:
    """Settings of the Ising reproduction."""

    lattice: int = 20
    """Side L of the L×L lattice (paper: 20)."""
    coupling: float = 1.0
    """λ (paper: 1); the Ising coupling is J = λ/2."""
    field: float = 0.0
    """h (paper: 0)."""
    temperatures: tuple[float, ...] = ()
    """Temperature grid; empty: λ × (0.5, 0.6, …, 3.0)."""
    seeds: int = 3
    """Seeds per method: 0 .. seeds−1."""
    scale: Literal["quick", "paper"] = "quick"
    """Sweep budget (see ISING_SCALES)."""
    mfq_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """TabularMFQConfig fields set on top of the scale's sweeps."""

    def __post_init__(self) -> None:
        IsingConfig(self.lattice, self.coupling, self.field)  # validates L, λ, h
        require(self.coupling > 0, f"lambda={self.coupling} must be > 0")
        require(1 <= self.seeds <= 10_000, f"seeds={self.seeds} must be in [1, 10000]")
        require_choice("scale", self.scale, SCALES)
        low, high = 1e-3 * self.coupling, 1e3 * self.coupling
        for t in self.temperatures:
            require(
                math.isfinite(t) and low <= t <= high,
                f"temperature {t} must be in [{low:g}, {high:g}] (1e-3 to 1e3 times lambda)",
            )
        require(
            len(set(self.temperatures)) == len(self.temperatures), "temperatures repeat a value"
        )
        self.mfq_config()  # validates the overrides

    @property
    def env(self) -> IsingConfig:
        return IsingConfig(self.lattice, self.coupling, self.field)

    @property
    def grid(self) -> np.ndarray:
        """The temperatures, sorted."""
        temps = self.temperatures or tuple(self.coupling * t for t in DEFAULT_GRID)
        return np.array(sorted(temps), dtype=np.float64)

    def mfq_config(self, **changes: Any) -> TabularMFQConfig:
        sweeps = ISING_SCALES[self.scale]
        base = {
            "warmup_sweeps": sweeps["mfq_warmup_sweeps"],
            "sweeps": sweeps["mfq_sweeps"],
            "measure_sweeps": sweeps["mfq_measure_sweeps"],
        }
        try:
            return TabularMFQConfig(**{**base, **dict(self.mfq_overrides), **changes})
        except TypeError as exc:
            raise ConfigError(f"bad MF-Q setting: {exc}") from exc

    def mcmc_config(self, start: str) -> MCMCConfig:
        sweeps = ISING_SCALES[self.scale]
        return MCMCConfig(sweeps["mcmc_burn_in"], sweeps["mcmc_sweeps"], start)


@dataclass(frozen=True)
class IsingJob:
    """One batched run: a method, a variant and a seed over the whole grid (picklable)."""

    method: Literal["mfq", "mcmc"]
    variant: str
    """mfq: ``main`` or ``no_warmup``; mcmc: ``ordered`` or ``random`` start."""
    seed: int
    env: IsingConfig
    temperatures: tuple[float, ...]
    mfq: TabularMFQConfig | None = None
    mcmc: MCMCConfig | None = None


@dataclass
class JobResult:
    job: IsingJob
    measured: np.ndarray
    """(sweeps, B) signed magnetisation over the measured sweeps."""
    trace: np.ndarray | None
    """(sweeps, B) MF-Q's signed magnetisation over all sweeps at T (None for MCMC)."""
    spins: np.ndarray
    """(B, N) final lattices."""
    seconds: float


def plan_jobs(experiment: IsingExperiment) -> list[IsingJob]:
    """MF-Q (with and without the warm-up) and MCMC (ordered and random starts) per seed."""
    temps = tuple(float(t) for t in experiment.grid)
    env = experiment.env
    jobs = []
    for seed in range(experiment.seeds):
        jobs += [
            IsingJob("mfq", "main", seed, env, temps, mfq=experiment.mfq_config()),
            IsingJob(
                "mfq", "no_warmup", seed, env, temps, mfq=experiment.mfq_config(warmup_sweeps=0)
            ),
            IsingJob("mcmc", "ordered", seed, env, temps, mcmc=experiment.mcmc_config("ordered")),
            IsingJob("mcmc", "random", seed, env, temps, mcmc=experiment.mcmc_config("random")),
        ]
    return jobs


JOBS_DIR = "jobs"
"""Where each finished job's arrays are kept (``jobs/<method>-<variant>-s<seed>.npz``), so
that ``--resume`` redoes only the jobs a killed reproduction had not finished."""


def job_path(out: Path, job: IsingJob) -> Path:
    return out / JOBS_DIR / f"{job.method}-{job.variant}-s{job.seed}.npz"


def _save(path: Path, result: JobResult) -> None:
    import io

    buffer = io.BytesIO()
    arrays = {"measured": result.measured, "spins": result.spins}
    if result.trace is not None:
        arrays["trace"] = result.trace
    arrays["seconds"] = np.asarray(result.seconds, dtype=np.float64)
    np.savez(buffer, allow_pickle=False, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())


def _load(path: Path, job: IsingJob) -> JobResult | None:
    """The saved result of ``job`` if it is there and fits the job (else None)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            measured, spins = data["measured"], data["spins"]
            trace = data["trace"] if "trace" in data else None
            seconds = float(data["seconds"])
    except (OSError, ValueError, KeyError):
        return None
    width = len(job.temperatures)
    fits = measured.ndim == 2 and measured.shape[1] == width and spins.shape[0] == width
    if not fits or (job.method == "mfq") != (trace is not None):
        return None
    return JobResult(job, measured, trace, spins, seconds)


def run_job(job: IsingJob, out: str | None = None, resume: bool = False) -> JobResult:
    """Task: one job; with ``out``, its arrays are kept under ``out/jobs``, and with
    ``resume`` a job found there is not run again."""
    if out is not None and resume:
        done = _load(job_path(Path(out), job), job)
        if done is not None:
            return done
    result = _run_job(job)
    if out is not None:
        _save(job_path(Path(out), job), result)
    return result


def _run_job(job: IsingJob) -> JobResult:
    start = time.perf_counter()
    if job.method == "mfq":
        assert job.mfq is not None
        run = train_tabular_mfq(job.env, job.mfq, job.temperatures, job.seed)
        return JobResult(
            job, run.measured, run.magnetisation, run.spins, time.perf_counter() - start
        )
    assert job.mcmc is not None
    # A seed of its own for each start, apart from MF-Q's.
    seed = 1_000_003 * (1 if job.variant == "ordered" else 2) + job.seed
    mc = metropolis(job.env, job.mcmc, job.temperatures, seed)
    return JobResult(job, mc.magnetisation, None, mc.spins, time.perf_counter() - start)


def run_jobs(
    jobs: Sequence[IsingJob],
    workers: int = 1,
    on_done: Callable[[JobResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    out: str | None = None,
    resume: bool = False,
) -> list[JobResult]:
    """Run the jobs on the local executor (this process, or ``workers`` spawned processes);
    results in job order. Once ``should_stop()`` is true, :class:`KeyboardInterrupt` is
    raised; a failed job raises a RuntimeError naming it."""
    require(workers >= 1, f"workers={workers} must be >= 1")
    tasks = [Task(f"{j.method} {j.variant} s{j.seed}", run_job, (j, out, resume)) for j in jobs]

    def finished(result: TaskResult) -> None:
        if result.ok and on_done is not None:
            on_done(result.value)

    results = LocalExecutor(min(workers, max(1, len(jobs)))).map(tasks, finished, should_stop)
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"job {failed[0].key} failed: {failed[0].error}")
    return [r.value for r in results]


def _stats(results: Sequence[JobResult], method: str, variant: str) -> MagnetisationStats:
    chosen = [r for r in results if r.job.method == method and r.job.variant == variant]
    temps = np.asarray(chosen[0].job.temperatures)
    return magnetisation_stats([r.measured for r in chosen], temps, chosen[0].job.env.n_sites)


def _method_dict(stats: MagnetisationStats) -> dict[str, Any]:
    return {
        "order_parameter": stats.order_parameter.tolist(),
        "order_parameter_std": stats.order_parameter_std.tolist(),
        "order_parameter_seed_std": stats.seed_std.tolist(),
        "susceptibility": stats.susceptibility.tolist(),
        "binder_cumulant": stats.binder.tolist(),
    }


def results_dict(experiment: IsingExperiment, results: Sequence[JobResult]) -> dict[str, Any]:
    """The content of ``results.json``: the issue's keys, plus the checks and the variants
    (MF-Q without warm-up, MCMC from a random start)."""
    temps = experiment.grid
    lam, h = experiment.coupling, experiment.field
    mfq, mcmc = _stats(results, "mfq", "main"), _stats(results, "mcmc", "ordered")
    mfq_cold, mcmc_random = _stats(results, "mfq", "no_warmup"), _stats(results, "mcmc", "random")
    tc_mfq = susceptibility_peak(temps, mfq.susceptibility)
    tc_mcmc = susceptibility_peak(temps, mcmc.susceptibility)
    tc_exact = onsager_tc(lam)
    onsager = [onsager_magnetisation(t, lam) for t in temps] if h == 0 else [None] * len(temps)
    diff = np.abs(mfq.order_parameter - mcmc.order_parameter)
    low, high = (lam * b for b in TC_RANGE)
    checks: dict[str, Any] = {
        "mean_abs_diff_mfq_mcmc": float(diff.mean()),
        "max_abs_diff_mfq_mcmc": float(diff.max()),
        "mean_abs_diff_ok": bool(diff.mean() <= MAX_MEAN_ABS_DIFF),
        "tc_diff": abs(tc_mfq - tc_mcmc),
        "tc_diff_tolerance": MAX_TC_DIFF * lam,
        "tc_diff_ok": bool(abs(tc_mfq - tc_mcmc) <= MAX_TC_DIFF * lam),
        "tc_range": [low, high],
        "tc_mfq_in_range": bool(low <= tc_mfq <= high),
        "tc_mcmc_in_range": bool(low <= tc_mcmc <= high),
    }
    below = [i for i, t in enumerate(temps) if t < ONSAGER_CHECK_FRACTION * tc_exact]
    if h == 0 and below:
        gap = [abs(mcmc.order_parameter[i] - onsager[i]) for i in below]
        checks["onsager_temperatures"] = [float(temps[i]) for i in below]
        checks["mcmc_onsager_max_abs_diff"] = float(max(gap))
        checks["mcmc_onsager_ok"] = bool(max(gap) <= ONSAGER_TOLERANCE)
    mfq_dict = _method_dict(mfq)
    mfq_dict["no_warmup"] = _method_dict(mfq_cold)
    mfq_dict["config"] = dataclasses.asdict(experiment.mfq_config())
    mcmc_dict = _method_dict(mcmc)
    mcmc_dict["random_start"] = _method_dict(mcmc_random)
    mcmc_dict["config"] = dataclasses.asdict(experiment.mcmc_config("ordered"))
    return {
        "experiment": EXPERIMENT,
        "lattice": experiment.lattice,
        "lambda": lam,
        "h": h,
        "temperatures": temps.tolist(),
        "mfq": mfq_dict,
        "mcmc": mcmc_dict,
        "onsager": {"tc": tc_exact, "order_parameter": onsager},
        "tc": {"mfq": tc_mfq, "mcmc": tc_mcmc, "estimator": TC_ESTIMATOR},
        "checks": checks,
        "scale": experiment.scale,
        "seeds": experiment.seeds,
        "version": __version__,
        "seconds": {
            "mfq": sum(r.seconds for r in results if r.job.method == "mfq"),
            "mcmc": sum(r.seconds for r in results if r.job.method == "mcmc"),
        },
    }


def experiment_record(
    experiment: IsingExperiment, workers: int, command: Sequence[str] | None
) -> dict[str, Any]:
    """The content of ``OUT/config.json``."""
    settings = dataclasses.asdict(experiment)
    settings["mfq_overrides"] = dict(experiment.mfq_overrides)
    settings["temperatures"] = experiment.grid.tolist()
    return {
        "experiment": EXPERIMENT,
        "settings": settings,
        "mfq": dataclasses.asdict(experiment.mfq_config()),
        "mcmc": dataclasses.asdict(experiment.mcmc_config("ordered")),
        "workers": workers,
        "mfmarl_version": __version__,
        "command": list(command) if command is not None else None,
    }


def reproduce_ising(
    experiment: IsingExperiment,
    out_dir: str | Path,
    workers: int = 1,
    on_done: Callable[[JobResult], None] | None = None,
    command: Sequence[str] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Run the experiment into ``out_dir`` (which must exist) and return the results;
    ``resume``: continue an earlier invocation with the same settings there, running only
    the jobs it had not finished."""
    out = Path(out_dir)
    jobs = plan_jobs(experiment)
    record = experiment_record(experiment, workers, command)
    write_config(out / "config.json", record, resume)
    log.info("running %d Ising jobs with %d workers", len(jobs), workers)
    results = run_jobs(jobs, workers, on_done, should_stop, str(out), resume)
    res = results_dict(experiment, results)
    write_json_atomic(out / "results.json", res)
    plots = ising_plots(out, experiment, res, results)
    write_text_atomic(out / "report.md", ising_report(experiment, res, plots))
    return res


def summary_text(res: Mapping[str, Any]) -> str:
    """A few lines for a terminal."""
    c = res["checks"]
    lines = [
        f"mean |ξ_MF-Q − ξ_MCMC| = {c['mean_abs_diff_mfq_mcmc']:.4f} "
        f"(≤ {MAX_MEAN_ABS_DIFF}: {'yes' if c['mean_abs_diff_ok'] else 'no'})",
        f"Tc: MF-Q {res['tc']['mfq']:.3f}, MCMC {res['tc']['mcmc']:.3f}, "
        f"Onsager (infinite lattice) {res['onsager']['tc']:.3f}; "
        f"within {c['tc_diff_tolerance']:g}: {'yes' if c['tc_diff_ok'] else 'no'}; in "
        f"[{c['tc_range'][0]:.3f}, {c['tc_range'][1]:.3f}]: "
        f"{'yes' if c['tc_mfq_in_range'] and c['tc_mcmc_in_range'] else 'no'}",
    ]
    if "mcmc_onsager_ok" in c:
        lines.append(
            f"MCMC vs Onsager below {ONSAGER_CHECK_FRACTION}·Tc: largest difference "
            f"{c['mcmc_onsager_max_abs_diff']:.4f}"
        )
    return "\n".join(lines)
