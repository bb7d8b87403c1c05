"""``mfmarl reproduce gaussian-squeeze`` and ``mfmarl reproduce ising`` (Battle's reproduction and
sweep: :mod:`mfmarl.cli.reproduce_battle`)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.cli import reproduce_battle as battle_commands
from mfmarl.cli.options import (
    add_common_run_options,
    add_dataclass_options,
    add_resume_option,
    command_line,
    field_default,
    given,
    open_out,
    preset_note,
)
from mfmarl.core.errors import ConfigError
from mfmarl.experiments.gaussian_squeeze.env import GaussianSqueezeConfig
from mfmarl.experiments.gaussian_squeeze.preset import SCALES, SQUEEZE_METHODS
from mfmarl.experiments.ising.tabular_mfq import TabularMFQConfig
from mfmarl.training.loop import TrainConfig


def add_parsers(reproduce: Any, commands: Any) -> None:
    """``reproduce gaussian-squeeze|ising|battle`` (under ``reproduce``) and ``sweep battle``
    (under the top-level ``commands``)."""
    _reproduce_squeeze_parser(reproduce)
    _reproduce_ising_parser(reproduce)
    battle_commands.add_parsers(reproduce, commands)


def _reproduce_squeeze_parser(commands: Any) -> None:
    p = commands.add_parser(
        "gaussian-squeeze",
        help="the paper's Gaussian Squeeze comparison (all algorithms × N × seeds)",
        description="Train every algorithm for every N and seed on Gaussian Squeeze, then "
        "write results.json, learning-curve PNGs and report.md into --out (one run directory "
        "per algorithm, N and seed under --out/runs). Algorithm and training options override "
        "every run's preset.",
    )
    add_common_run_options(p, SCALES)
    p.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="K",
        help="seeds per (algorithm, N): seeds 0 .. K-1 [default: 3]",
    )
    p.add_argument(
        "--n-agents",
        type=int,
        nargs="+",
        default=[100, 500, 1000],
        metavar="N",
        help="population sizes to run [default: 100 500 1000]",
    )
    p.add_argument(
        "--algos",
        nargs="+",
        choices=list(SQUEEZE_METHODS),
        default=list(SQUEEZE_METHODS),
        metavar="METHOD",
        help=f"methods to compare, from {{{', '.join(SQUEEZE_METHODS)}}}: the four "
        "algorithms, and mfq-adv, MF-Q in the paper's form (ā also in the advantage, so the "
        "policy depends on ā; the headline mfq feeds ā to the value stream only) "
        "[default: all]",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel worker processes, one torch thread each [default: number of CPUs, "
        f"{os.cpu_count() or 1} here]",
    )
    env = p.add_argument_group("environment", "GaussianSqueezeConfig fields")
    add_dataclass_options(env, GaussianSqueezeConfig, "env", exclude=("n_agents",))
    algo = p.add_argument_group("algorithm", "AlgorithmConfig fields; override every preset")
    add_dataclass_options(algo, AlgorithmConfig, "algo", ("algo",), preset_note)
    train = p.add_argument_group("training", "TrainConfig fields; override every preset")
    add_dataclass_options(train, TrainConfig, "train", ("seed",), preset_note)
    add_resume_option(p)
    p.set_defaults(handler=_cmd_reproduce_squeeze)


ISING_MFQ_FROM_SCALE = ("warmup_sweeps", "sweeps", "measure_sweeps")


def _ising_mfq_note(f: dataclasses.Field[Any]) -> str:
    if f.name in ISING_MFQ_FROM_SCALE:
        return "default: from --scale"
    return f"default: {field_default(f)}"


def _reproduce_ising_parser(commands: Any) -> None:
    p = commands.add_parser(
        "ising",
        help="the paper's Ising experiment (tabular MF-Q vs Metropolis MCMC over T)",
        description="Run tabular MF-Q and Metropolis MCMC on an L×L periodic Ising lattice "
        "over a temperature grid (docs/method.md 6.2), then write results.json, PNGs (ξ(T) with "
        "Onsager's exact curve, susceptibility, lattice snapshots, MF-Q's ξ over training) and "
        "report.md into --out. The agents' reward r_j = h·s_j + (λ/2)·s_j·Σ_k s_k makes them "
        "sample the Ising model with J = λ/2, so Onsager's Tc is λ/ln(1+√2).",
    )
    add_common_run_options(p, SCALES)
    p.add_argument(
        "--lattice",
        type=int,
        default=20,
        metavar="L",
        help="side of the L×L periodic lattice, L >= 2 [default: 20, the paper's]",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="K",
        help="seeds per method: seeds 0 .. K-1 [default: 3]",
    )
    p.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=None,
        metavar="T",
        help="temperature grid, each T > 0 [default: λ × (0.5, 0.6, …, 3.0)]",
    )
    p.add_argument(
        "--lambda",
        dest="coupling",
        type=float,
        default=1.0,
        metavar="LAMBDA",
        help="λ > 0, the reward weight of the neighbours' spins; Ising J = λ/2 [default: 1]",
    )
    p.add_argument(
        "--h",
        dest="field",
        type=float,
        default=0.0,
        metavar="H",
        help="external field h, the reward of spin up on its own [default: 0]",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parallel worker processes (jobs: 4 per seed) [default: 1]",
    )
    mfq = p.add_argument_group("MF-Q", "TabularMFQConfig fields")
    add_dataclass_options(mfq, TabularMFQConfig, "mfq", ("start",), _ising_mfq_note)
    add_resume_option(p)
    p.set_defaults(handler=_cmd_reproduce_ising)


def _cmd_reproduce_squeeze(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mfmarl.experiments.gaussian_squeeze.reproduce import (
        SqueezeExperiment,
        headline,
        plan_runs,
        reproduce_gaussian_squeeze,
        summary_table,
    )
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS

    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers} must be >= 1")
    env = given(args, "env")
    experiment = SqueezeExperiment(
        n_agents=tuple(args.n_agents),
        algos=tuple(args.algos),
        seeds=args.seeds,
        scale=args.scale,
        algo_overrides=given(args, "algo"),
        train_overrides=given(args, "train"),
        **env,
    )
    jobs = plan_runs(experiment, args.out)  # validates every run's config before writing
    out = open_out(args, EXPERIMENT_OUTPUTS)
    print(f"{len(jobs)} runs with {min(args.workers, len(jobs))} worker(s) into {out}/runs")
    with tqdm(total=len(jobs), desc="runs", unit="run", dynamic_ncols=True) as bar:

        def done(summary: Any) -> None:
            bar.set_postfix_str(f"{Path(summary.run_dir).name}: {summary.seconds:.0f} s")
            bar.update(1)

        results = reproduce_gaussian_squeeze(
            experiment,
            out,
            args.workers,
            done,
            command=command_line(args),
            should_stop=args.stop,
            resume=args.resume,
        )
    print(summary_table(results))
    print(headline(results))
    plots = sorted(p.name for p in out.glob("*.png"))
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    print(f"plots:   {', '.join(str(out / p) for p in plots)}")
    return 0


def _cmd_reproduce_ising(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mfmarl.experiments.ising.reproduce import (
        JOBS_DIR,
        IsingExperiment,
        plan_jobs,
        reproduce_ising,
        summary_text,
    )
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS

    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers} must be >= 1")
    experiment = IsingExperiment(
        lattice=args.lattice,
        coupling=args.coupling,
        field=args.field,
        temperatures=tuple(args.temperatures or ()),
        seeds=args.seeds,
        scale=args.scale,
        mfq_overrides=given(args, "mfq"),
    )
    jobs = plan_jobs(experiment)  # validates every setting before writing
    out = open_out(args, (*EXPERIMENT_OUTPUTS, JOBS_DIR))
    print(f"{len(jobs)} jobs ({len(experiment.grid)} temperatures each) into {out}")
    start = time.perf_counter()
    with tqdm(total=len(jobs), desc="jobs", unit="job", dynamic_ncols=True) as bar:

        def done(result: Any) -> None:
            job = result.job
            bar.set_postfix_str(f"{job.method} {job.variant} s{job.seed}: {result.seconds:.0f} s")
            bar.update(1)

        results = reproduce_ising(
            experiment,
            out,
            args.workers,
            done,
            command_line(args),
            should_stop=args.stop,
            resume=args.resume,
        )
    print(summary_text(results))
    print(f"{time.perf_counter() - start:.1f} s")
    plots = sorted(p.name for p in out.glob("*.png"))
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    print(f"plots:   {', '.join(str(out / p) for p in plots)}")
    return 0
