"""``mfmarl reproduce battle`` and ``mfmarl sweep battle``: the paper's Battle experiment and
grids of Battle training runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mfmarl.algorithms import ALGORITHMS
from mfmarl.cli.options import (
    EXECUTOR_EPILOG,
    add_common_run_options,
    add_executor_options,
    add_progress_option,
    add_resume_option,
    command_line,
    executor_from,
    open_out,
    report_failures,
    task_bar,
)
from mfmarl.core.errors import ConfigError

BATTLE_SCALES = ("quick", "medium", "paper")


def add_parsers(reproduce: Any, commands: Any) -> None:
    """``reproduce battle`` (under ``reproduce``) and ``sweep battle`` (under ``commands``)."""
    _reproduce_battle_parser(reproduce)
    _sweep_parser(commands)


SET_HELP = (
    "KEY=VALUE[,VALUE...]: a setting of train battle by its field name (a BattleConfig, "
    "AlgorithmConfig or BattleTrainConfig field, e.g. lr, gamma, map_size, episodes, "
    "neighbourhood); values are checked against the field's type. Repeat --set for more keys"
)


def _reproduce_battle_parser(commands: Any) -> None:
    p = commands.add_parser(
        "battle",
        help="the paper's Battle comparison (MF-Q, MF-AC, IL, AC × seeds, then a tournament)",
        description="Train mfq, mfac, iql and iac for K seeds each by self-play on Battle "
        "(the train battle preset of --scale; one run directory each under --out/runs), then "
        "play the tournament of every trained player plus random and attack-nearest "
        "(--out/tournament), and write results.json (per-algorithm ratings, cross-play, win "
        "rate vs random), learning_curves.png, best_two.gif and report.md (win rates with "
        "Wilson intervals, the paper's ordering MF-Q > IL > MF-AC > AC against the measured "
        "one). --scale quick (16 v 16 on 24×24, 300 episodes) takes about 25 minutes on 2 "
        "cores with K = 1; --scale medium (the paper's 64 v 64 on 40×40 with 400 episodes, "
        "20 rounds per pair) about 2.5 hours with K = 2 (estimated); --scale paper (64 v 64 "
        "on 40×40, 2000 episodes) takes about 46 CPU hours per seed on such cores (printed "
        "before it starts). For a smoke test: "
        "--episodes 2 --max-steps 10 --map-size 20 --rounds 2.",
        epilog=EXECUTOR_EPILOG,
    )
    add_common_run_options(p, BATTLE_SCALES)
    p.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="K",
        help="seeds per algorithm: seeds 0 .. K-1 [default: 1]",
    )
    p.add_argument(
        "--algos",
        nargs="+",
        choices=ALGORITHMS,
        default=list(ALGORITHMS),
        metavar="ALGO",
        help=f"algorithms to train, from {{{', '.join(ALGORITHMS)}}} [default: all]",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="tournament rounds per pair of players [default: 50, the paper's; 20 at --scale "
        "medium]",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="training episodes per run; the ε and β schedules follow [default: the preset's]",
    )
    p.add_argument("--map-size", type=int, default=None, help="map side [default: the preset's]")
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="steps per episode at most; the ε and β schedules follow [default: the preset's]",
    )
    p.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=SET_HELP.replace("[,VALUE...]", "") + " (one value each here)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the tournament and bootstrap [default: 0]"
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=2000,
        help="bootstrap resamples for the rating intervals [default: 2000]",
    )
    add_progress_option(p)
    add_executor_options(p)
    add_resume_option(p)
    p.set_defaults(handler=_cmd_reproduce_battle)


def _sweep_parser(commands: Any) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="train over a grid of seeds and settings",
        description="Train over a grid of algorithms, settings and seeds.",
    )
    envs = sweep.add_subparsers(dest="env", metavar="ENV", required=True)
    p = envs.add_parser(
        "battle",
        help="sweep train battle over algorithms, --set values and seeds",
        description="Train one Battle self-play run (train battle, from the --scale preset) "
        "for every combination of --algo, --set values and --seeds, each in --out/runs/"
        "<algo>_<key>=<value>..._s<seed>, one task each; then each run plays "
        "--eval-rounds rounds against random and against attack-nearest. Writes "
        "results.json (every run: settings, status, error, summary, win rates) and "
        "report.md. Example: mfmarl sweep battle --algo mfq iql --seeds 0 1 --set "
        "lr=1e-4,3e-4 --set episodes=100 --out runs/sweep (8 runs). Changing episodes or "
        "max_steps rescales the ε and β schedules unless they are set too.",
        epilog=EXECUTOR_EPILOG,
    )
    add_common_run_options(p, BATTLE_SCALES)
    p.add_argument(
        "--algo",
        nargs="+",
        choices=ALGORITHMS,
        default=["mfq"],
        metavar="ALGO",
        help=f"algorithms, from {{{', '.join(ALGORITHMS)}}} [default: mfq]",
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0], metavar="S", help="seeds [default: 0]"
    )
    p.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help=SET_HELP,
    )
    p.add_argument(
        "--eval-rounds",
        type=int,
        default=20,
        help="rounds against each built-in player after training (0: none) [default: 20]",
    )
    add_progress_option(p)
    add_executor_options(p)
    add_resume_option(p)
    p.set_defaults(handler=_cmd_sweep_battle)


def _fixed_settings(items: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` with one value each."""
    from mfmarl.experiments.battle.runs import parse_assignments

    grid = parse_assignments(items)
    for key, values in grid.items():
        if len(values) != 1:
            raise ConfigError(f"--set {key}: give one value here (sweeps: mfmarl sweep battle)")
    return {key: values[0] for key, values in grid.items()}


def _cmd_reproduce_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.experiments.battle.plan import (
        DEFAULT_ROUNDS,
        BattleExperiment,
        cost_text,
        plan_runs,
    )
    from mfmarl.experiments.battle.reproduce import (
        BATTLE_OUTPUTS,
        reproduce_battle,
        summary_text,
    )

    overrides = _fixed_settings(args.settings)
    for key in ("episodes", "map_size", "max_steps"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    experiment = BattleExperiment(
        scale=args.scale,
        seeds=args.seeds,
        algos=tuple(args.algos),
        rounds=args.rounds if args.rounds is not None else DEFAULT_ROUNDS[args.scale],
        resamples=args.resamples,
        overrides=overrides,
        seed=args.seed,
    )
    jobs = plan_runs(experiment, Path(args.out))  # validates every run's config before writing
    with executor_from(args) as executor:
        out = open_out(args, BATTLE_OUTPUTS)
        players = len(jobs) + 2
        total = len(jobs) + players * (players - 1) // 2
        print(
            f"{len(jobs)} training runs, then a {players}-player tournament, on "
            f"{executor.description}, into {out}"
        )
        print(cost_text(experiment, args.workers))
        with task_bar(args, total, "tasks", "task") as bar:

            def done(result: Any) -> None:
                note = f"{result.seconds:.0f} s" if result.ok else "FAILED"
                bar.set_postfix_str(f"{result.key}: {note}")
                bar.update(1)

            outcome = reproduce_battle(
                experiment,
                out,
                executor,
                args.workers,
                done,
                command=command_line(args),
                should_stop=args.stop,
                resume=args.resume,
            )
    print(summary_text(outcome.results))
    print(f"{outcome.results['seconds'] / 60:.1f} min")
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    return report_failures(outcome.failures, outcome.tasks, "task", "tasks", out)


def _cmd_sweep_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.experiments.battle.runs import parse_assignments
    from mfmarl.experiments.battle.sweep import (
        SWEEP_OUTPUTS,
        SweepExperiment,
        plan_sweep,
        run_sweep,
    )

    if args.eval_rounds < 0:
        raise ConfigError(f"--eval-rounds={args.eval_rounds} must be >= 0")
    experiment = SweepExperiment(
        algos=tuple(dict.fromkeys(args.algo)),
        seeds=tuple(args.seeds),
        scale=args.scale,
        grid=parse_assignments(args.settings),
        eval_rounds=args.eval_rounds,
    )
    jobs = plan_sweep(experiment, Path(args.out))  # validates every run's config before writing
    with executor_from(args) as executor:
        out = open_out(args, SWEEP_OUTPUTS)
        print(f"{len(jobs)} runs on {executor.description} into {out}/runs")
        with task_bar(args, len(jobs), "runs", "run") as bar:

            def done(result: Any) -> None:
                note = f"{result.seconds:.0f} s" if result.ok else "FAILED"
                bar.set_postfix_str(f"{result.key}: {note}")
                bar.update(1)

            outcome = run_sweep(
                experiment,
                out,
                executor,
                done,
                command_line(args),
                should_stop=args.stop,
                resume=args.resume,
            )
    for run in outcome.results["runs"]:
        vs = run["vs_random"]
        status = "ok" if run["status"] == "ok" else f"FAILED ({run['error']})"
        win = "" if vs is None else f", vs random {vs:.2f}"
        print(f"{run['name']}: {status}{win}")
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    return report_failures(outcome.failures, len(jobs), "run", "runs", out)
