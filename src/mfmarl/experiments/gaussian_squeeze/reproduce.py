"""The Gaussian Squeeze reproduction (docs/method.md 6.1): every algorithm × N × seed, then
``results.json``, learning-curve PNGs and ``report.md``.

Output layout::

    OUT/config.json                     the experiment's settings
    OUT/runs/<algo>_n<N>_s<seed>/       one training run each (see mfmarl.training.runner)
    OUT/results.json                    per-run final G and x, per-(algo, N) summary
    OUT/curves_n<N>.png                 G and x learning curves per algorithm, with G* and x*
    OUT/final_ratio.png                 final G/G* per algorithm and N
    OUT/report.md                       settings, tables, plots, comparison with the paper
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mfmarl import __version__
from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import ConfigError, require, require_choice
from mfmarl.envs.source import EnvSource
from mfmarl.evaluation.plots import Panel, plot_learning_curves, plot_seed_points
from mfmarl.evaluation.stats import t_interval
from mfmarl.experiments.gaussian_squeeze.env import (
    GaussianSqueeze,
    GaussianSqueezeConfig,
    squeeze_optimum,
)
from mfmarl.experiments.gaussian_squeeze.preset import SCALES, gaussian_squeeze_preset
from mfmarl.experiments.gaussian_squeeze.preset import SQUEEZE_METHODS as METHODS
from mfmarl.experiments.gaussian_squeeze.report import (
    BAR,
    METHOD_NAMES,
    SEED_FLOOR,
    SUCCESS_RATIO,
    squeeze_report,
)
from mfmarl.parallel.executor import Executor, LocalExecutor, Task, TaskResult
from mfmarl.training.logger import read_metrics
from mfmarl.training.loop import TrainConfig
from mfmarl.training.run import RunSummary, train_run
from mfmarl.training.rundir import write_config, write_json_atomic, write_text_atomic
from mfmarl.training.spec import RunSpec

log = logging.getLogger(__name__)

EXPERIMENT = "gaussian-squeeze"
SQUEEZE_FACTORY = "mfmarl.experiments.gaussian_squeeze.env:make_gaussian_squeeze"


def method_name(method: str) -> str:
    """The display name of a method (``mfq-adv`` -> ``MF-Q (ā in A)``)."""
    return METHOD_NAMES.get(method, method)


@dataclass(frozen=True)
class SqueezeExperiment:
    """Settings of a Gaussian Squeeze reproduction."""

    n_agents: tuple[int, ...] = (100, 500, 1000)
    """Population sizes N to run."""
    mu: float = 400.0
    """Centre µ of the Gaussian."""
    sigma: float = 200.0
    """Width σ of the Gaussian."""
    n_actions: int = 10
    """Actions per agent D."""
    algos: tuple[str, ...] = tuple(METHODS)
    """Methods to compare (keys of :data:`METHODS`: the four algorithms and ``mfq-adv``)."""
    seeds: int = 3
    """Seeds per (algorithm, N): seeds 0 .. seeds−1."""
    scale: Literal["quick", "paper"] = "quick"
    """Preset budget: quick or paper."""
    algo_overrides: Mapping[str, Any] = field(default_factory=dict)
    """AlgorithmConfig fields set on top of every preset."""
    train_overrides: Mapping[str, Any] = field(default_factory=dict)
    """TrainConfig fields set on top of every preset (``seed`` is set per run)."""

    def __post_init__(self) -> None:
        require(len(self.n_agents) > 0, "give at least one --n-agents value")
        require(self.seeds >= 1, f"seeds={self.seeds} must be >= 1")
        require(len(self.algos) > 0, "give at least one algorithm")
        require(len(set(self.algos)) == len(self.algos), f"algos={self.algos} repeat a name")
        require(len(set(self.n_agents)) == len(self.n_agents), "n_agents values repeat")
        for algo in self.algos:
            require_choice("algo", algo, tuple(METHODS))
        require_choice("scale", self.scale, SCALES)
        for n in self.n_agents:
            self.env_config(n)  # validates N, µ, σ, D

    def env_config(self, n_agents: int) -> GaussianSqueezeConfig:
        return GaussianSqueezeConfig(
            n_agents=n_agents, mu=self.mu, sigma=self.sigma, n_actions=self.n_actions
        )

    def optimum(self, n_agents: int | None = None) -> tuple[float, float]:
        """``(x*, G*)``; with ``n_agents``, clipped to the reachable ``x <= (D−1)·N``."""
        max_x = None if n_agents is None else (self.n_actions - 1) * n_agents
        return squeeze_optimum(self.mu, self.sigma, max_x)


@dataclass(frozen=True)
class RunJob:
    """One training run of the experiment (picklable, for worker processes)."""

    name: str
    env_config: GaussianSqueezeConfig
    algo_config: AlgorithmConfig
    train_config: TrainConfig
    out_dir: str
    method: str = ""
    """The key of :data:`METHODS` this run belongs to."""

    @property
    def spec(self) -> RunSpec:
        return squeeze_spec(self.env_config, self.algo_config, self.train_config)


def squeeze_spec(
    env: GaussianSqueezeConfig,
    algo: AlgorithmConfig,
    train: TrainConfig,
    checkpoint_every: int = 0,
) -> RunSpec:
    """The RunSpec of one Gaussian Squeeze run: one group (``agent``), one learner."""
    return RunSpec(
        env=EnvSource(SQUEEZE_FACTORY, dataclasses.asdict(env)),
        roles={GaussianSqueeze.GROUP: algo.algo},
        algorithms={GaussianSqueeze.GROUP: algo},
        train=train,
        checkpoint_every=checkpoint_every,
        name=EXPERIMENT,
    )


def run_name(algo: str, n_agents: int, seed: int) -> str:
    return f"{algo}_n{n_agents}_s{seed}"


def _replace(config: Any, overrides: Mapping[str, Any]) -> Any:
    try:
        return dataclasses.replace(config, **dict(overrides))
    except TypeError as exc:  # an unknown field name
        raise ConfigError(f"bad override for {type(config).__name__}: {exc}") from exc


def preset_configs(
    algo: str, n_agents: int, scale: str, episodes: int | None = None
) -> tuple[AlgorithmConfig, TrainConfig]:
    """The Gaussian Squeeze preset. A given episode budget goes to the preset itself, so that
    the schedules it ties to the budget (β) follow it."""
    if episodes is None:
        return gaussian_squeeze_preset(algo, n_agents, scale)
    return gaussian_squeeze_preset(algo, n_agents, scale, episodes=episodes)


def run_configs(
    experiment: SqueezeExperiment, algo: str, n_agents: int, seed: int
) -> tuple[AlgorithmConfig, TrainConfig]:
    """The preset of (method ``algo``, N, scale) with the experiment's overrides and this
    seed."""
    episodes = experiment.train_overrides.get("episodes")
    learner, settings = METHODS[algo]
    algo_config, train_config = preset_configs(learner, n_agents, experiment.scale, episodes)
    algo_config = _replace(algo_config, {**settings, **experiment.algo_overrides})
    train_config = _replace(train_config, {**experiment.train_overrides, "seed": seed})
    return algo_config, train_config


def plan_runs(experiment: SqueezeExperiment, out_dir: str | Path) -> list[RunJob]:
    """Every (algo, N, seed) run with validated configs, in report order."""
    jobs = []
    for algo in experiment.algos:
        for n in experiment.n_agents:
            for seed in range(experiment.seeds):
                algo_config, train_config = run_configs(experiment, algo, n, seed)
                name = run_name(algo, n, seed)
                path = str(Path(out_dir) / "runs" / name)
                env = experiment.env_config(n)
                jobs.append(RunJob(name, env, algo_config, train_config, path, algo))
    return jobs


StopCheck = Callable[[], bool]
"""Returns True once the user asked to stop (e.g. after Ctrl-C)."""


def run_job(job: RunJob, resume: bool = False, should_stop: StopCheck | None = None) -> RunSummary:
    """Task: train one run into its directory (``resume``: continue what is there; a
    finished run is kept as it is)."""
    return train_run(job.spec, job.out_dir, should_stop=should_stop, resume=resume)


def run_jobs(
    jobs: Sequence[RunJob],
    workers: int = 1,
    on_done: Callable[[RunSummary], None] | None = None,
    should_stop: StopCheck | None = None,
    executor: Executor | None = None,
    resume: bool = False,
) -> list[RunSummary]:
    """Run ``jobs`` on ``executor`` (default: ``workers`` local processes, one torch thread
    each; this process when 1). ``on_done`` is called as each run finishes (in completion
    order). Once ``should_stop()`` is true, an in-process run ends after its current episode
    (its files complete) and a pool is terminated; then :class:`KeyboardInterrupt` is
    raised. A run that fails raises a RuntimeError naming it. Returns the summaries in the
    order of ``jobs``."""
    require(workers >= 1, f"workers={workers} must be >= 1")
    pool = executor or LocalExecutor(min(workers, max(1, len(jobs))))
    # The largest populations first, so that a pool is not left waiting on one long run.
    order = sorted(jobs, key=lambda j: -j.env_config.n_agents)
    tasks = [Task(job.name, run_job, (job, resume), stoppable=True) for job in order]

    def finished(result: TaskResult) -> None:
        if result.ok and on_done is not None:
            on_done(result.value)

    results = pool.map(tasks, finished, should_stop)
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"run {failed[0].key} failed: {failed[0].error}")
    by_dir = {r.value.run_dir: r.value for r in results}
    stopped = [s for s in by_dir.values() if s.interrupted]
    if stopped:
        raise KeyboardInterrupt
    return [by_dir[job.out_dir] for job in jobs]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _methods(summaries: Sequence[RunSummary], methods: Sequence[str] | None) -> list[str]:
    """The method of each summary: as given, else its learner's algorithm."""
    if methods is None:
        return [s.algo for s in summaries]
    require(len(methods) == len(summaries), "one method per run summary")
    return list(methods)


def summarise(
    experiment: SqueezeExperiment,
    summaries: Sequence[RunSummary],
    methods: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Per (method, N): seeds, median/mean final G, G/G* with a 95% t interval over seeds,
    every seed's G/G*, and the headline bar (median ≥ 0.95, every seed ≥ 0.90)."""
    rows = []
    of = _methods(summaries, methods)
    for algo in experiment.algos:
        for n in experiment.n_agents:
            runs = [s for s, m in zip(summaries, of) if m == algo and s.n_agents == n]
            if not runs:
                continue
            x_star, g_star = experiment.optimum(n)
            g = np.array([s.final_G for s in runs], dtype=np.float64)
            ratio = g / g_star
            interval = t_interval(ratio)
            rows.append(
                {
                    "algo": algo,
                    "n_agents": n,
                    "seeds": len(runs),
                    "optimum_x": x_star,
                    "optimum_G": g_star,
                    "final_G_median": float(np.median(g)),
                    "final_G_mean": float(g.mean()),
                    "ratio_median": float(np.median(ratio)),
                    "ratio_mean": interval.estimate,
                    "ratio_ci95": [_finite_or_none(interval.low), _finite_or_none(interval.high)],
                    "ratio_min": float(ratio.min()),
                    "ratio_max": float(ratio.max()),
                    "final_x_median": float(np.median([s.final_x for s in runs])),
                    "seeds_reaching_95": int((ratio >= SUCCESS_RATIO).sum()),
                    "ratios": [float(r) for r in ratio],
                    "passes_bar": passes_bar(ratio),
                }
            )
    return rows


def passes_bar(ratios: Sequence[float] | np.ndarray) -> bool:
    """The headline bar over seeds: median G/G* ≥ 0.95 and every seed ≥ 0.90."""
    values = np.asarray(ratios, dtype=np.float64)
    return bool(np.median(values) >= SUCCESS_RATIO and values.min() >= SEED_FLOOR)


def results_dict(
    experiment: SqueezeExperiment,
    summaries: Sequence[RunSummary],
    methods: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The content of ``results.json``; ``methods``: the method of each summary (default:
    its algorithm)."""
    x_star, g_star = experiment.optimum()
    of = _methods(summaries, methods)
    runs = [
        {
            "algo": m,
            "learner": s.algo,
            "n_agents": s.n_agents,
            "seed": s.seed,
            "final_G": s.final_G,
            "final_x": s.final_x,
            "episodes": s.episodes,
            "seconds": s.seconds,
            "ratio": s.final_G / experiment.optimum(s.n_agents)[1],
        }
        for s, m in zip(summaries, of)
    ]
    return {
        "experiment": EXPERIMENT,
        "mu": experiment.mu,
        "sigma": experiment.sigma,
        "optimum_x": x_star,
        "optimum_G": g_star,
        "n_actions": experiment.n_actions,
        "scale": experiment.scale,
        "version": __version__,
        "runs": runs,
        "summary": summarise(experiment, summaries, of),
    }


def _curves(
    jobs: Iterable[RunJob], keys: Sequence[str]
) -> dict[int, dict[str, dict[str, list[np.ndarray]]]]:
    """``curves[N][algo label][key]`` = per-seed arrays read from each run's metrics.csv."""
    curves: dict[int, dict[str, dict[str, list[np.ndarray]]]] = {}
    for job in jobs:
        columns = read_metrics(Path(job.out_dir) / "metrics.csv")
        label = method_name(job.method or job.algo_config.algo)
        per_algo = curves.setdefault(job.env_config.n_agents, {}).setdefault(label, {})
        for key in keys:
            if key in columns:
                per_algo.setdefault(key, []).append(np.asarray(columns[key]))
    return curves


def write_plots(
    experiment: SqueezeExperiment, jobs: Sequence[RunJob], results: Mapping[str, Any], out: Path
) -> list[Path]:
    """Learning curves per N (``curves_n<N>.png``) and the final-ratio chart."""
    paths = []
    curves = _curves(jobs, ("env/G", "env/x"))
    for n in experiment.n_agents:
        x_star, g_star = experiment.optimum(n)
        panels = [
            Panel("env/G", "G(x) per episode", g_star, f"G* = {g_star:.1f}"),
            Panel("env/x", "x = Σ actions", x_star, f"x* = {x_star:.1f}"),
        ]
        title = f"Gaussian Squeeze, N = {n}, µ = {experiment.mu:g}, σ = {experiment.sigma:g}"
        paths.append(
            plot_learning_curves(out / f"curves_n{n}.png", title, panels, curves.get(n, {}))
        )
    rows = {(r["algo"], r["n_agents"]): r for r in results["summary"]}
    points = {
        method_name(algo): [
            list(rows[(algo, n)]["ratios"]) if (algo, n) in rows else []
            for n in experiment.n_agents
        ]
        for algo in experiment.algos
    }
    groups = [f"N = {n}" for n in experiment.n_agents]
    paths.append(
        plot_seed_points(
            out / "final_ratio.png",
            f"Final G / G*: every seed (dot) and the median (bar), n = {experiment.seeds} "
            f"seed{'s' if experiment.seeds > 1 else ''} each",
            groups,
            points,
            "G / G*",
            references={1.0: "G*", SUCCESS_RATIO: f"bar {SUCCESS_RATIO}"},
        )
    )
    return paths


def experiment_record(
    experiment: SqueezeExperiment, workers: int, command: Sequence[str] | None
) -> dict[str, Any]:
    """The content of ``OUT/config.json``."""
    settings = dataclasses.asdict(experiment)
    settings["algo_overrides"] = dict(experiment.algo_overrides)
    settings["train_overrides"] = dict(experiment.train_overrides)
    return {
        "experiment": EXPERIMENT,
        "settings": settings,
        "workers": workers,
        "mfmarl_version": __version__,
        "command": list(command) if command is not None else None,
    }


def reproduce_gaussian_squeeze(
    experiment: SqueezeExperiment,
    out_dir: str | Path,
    workers: int = 1,
    on_run_done: Callable[[RunSummary], None] | None = None,
    command: Sequence[str] | None = None,
    should_stop: StopCheck | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Run the whole experiment into ``out_dir`` (which must exist) and return the results.

    All configs are built and validated before the first run starts. ``should_stop``: see
    :func:`run_jobs`. ``resume``: continue an earlier invocation with the same settings in
    ``out_dir``: finished runs are kept, the others continue from their checkpoints.
    """
    out = Path(out_dir)
    jobs = plan_runs(experiment, out)
    record = experiment_record(experiment, workers, command)
    record["runs"] = {
        job.name: {
            "algorithm": dataclasses.asdict(job.algo_config),
            "train": dataclasses.asdict(job.train_config),
        }
        for job in jobs
    }
    write_config(out / "config.json", record, resume)
    log.info("running %d Gaussian Squeeze runs with %d workers", len(jobs), workers)
    summaries = run_jobs(jobs, workers, on_run_done, should_stop, resume=resume)
    results = results_dict(experiment, summaries, [job.method for job in jobs])
    write_json_atomic(out / "results.json", results)
    plots = write_plots(experiment, jobs, results, out)
    write_text_atomic(out / "report.md", squeeze_report(experiment, jobs, results, plots))
    return results


def summary_table(results: Mapping[str, Any]) -> str:
    """A plain-text table of ``results["summary"]`` for a terminal: per method and N, every
    seed's G/G* and whether the headline bar holds (median ≥ 0.95, every seed ≥ 0.90)."""
    header = (
        f"{'method':<14} {'N':>6} {'median':>7} {'min':>6}  {'every seed G/G*':<24} bar ({BAR})"
    )
    lines = [header, "-" * len(header)]
    for r in results["summary"]:
        seeds = " ".join(f"{v:.3f}" for v in r["ratios"])
        verdict = "PASS" if r["passes_bar"] else "FAIL"
        lines.append(
            f"{method_name(r['algo']):<14} {r['n_agents']:>6} {r['ratio_median']:>7.3f} "
            f"{r['ratio_min']:>6.3f}  {seeds:<24} {verdict}"
        )
    return "\n".join(lines)


def headline(results: Mapping[str, Any]) -> str:
    """One line: does MF-Q pass the paper's bar at every N run?"""
    rows = [r for r in results["summary"] if r["algo"] == "mfq"]
    if not rows:
        return "MF-Q was not run: no verdict on the paper's bar."
    failed = [str(r["n_agents"]) for r in rows if not r["passes_bar"]]
    ns = ", ".join(str(r["n_agents"]) for r in rows)
    if failed:
        return f"FAIL: MF-Q misses the bar ({BAR}) at N = {', '.join(failed)} (of {ns})."
    return f"PASS: MF-Q reaches the bar ({BAR}) at every N run ({ns})."
