"""``mfmarl train …`` and ``mfmarl resume``: one run of the one training loop on Gaussian
Squeeze, Battle, any MAgent2 environment or any PettingZoo environment (those two:
:mod:`mfmarl.cli.train_generic`), and the options and reports the training commands share."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.algorithms.config import require_view_settings
from mfmarl.cli.options import (
    PROG,
    add_common_run_options,
    add_dataclass_options,
    add_progress_option,
    add_show_config_option,
    command_line,
    given,
    preset_note,
    replace_fields,
    show_config,
)
from mfmarl.core.errors import ConfigError
from mfmarl.experiments.gaussian_squeeze.env import GaussianSqueezeConfig, squeeze_optimum
from mfmarl.experiments.gaussian_squeeze.preset import SCALES
from mfmarl.training.backends import LOGGERS
from mfmarl.training.loop import TrainConfig
from mfmarl.training.run import RunSummary

OUTPUTS_NOTE = "Writes config.json, metrics.csv, tb/, checkpoint/ and summary.json into --out."


def add_parsers(commands: Any) -> None:
    """``train gaussian-squeeze``, ``train battle``, ``train magent2``, ``train pettingzoo``."""
    from mfmarl.cli import train_generic  # (it imports the shared options from here)

    _squeeze_parser(commands)
    _battle_parser(commands)
    train_generic.add_parsers(commands)


def add_resume_parser(commands: Any) -> None:
    p = commands.add_parser(
        "resume",
        help="continue a killed or stopped training run",
        description="Continue the training run in DIR with the config recorded there: from "
        "its last checkpoint (networks, optimizer state, counters and generators restored; the "
        "replay buffer refills), or from the start when it was killed before its first one. "
        "Metric rows after the checkpoint are dropped and logged again.",
    )
    p.add_argument("run", metavar="DIR", help="the run's --out directory")
    p.add_argument(
        "--env",
        dest="confirm_env",
        default=None,
        metavar="MODULE:FACTORY",
        help="confirm the run's own environment factory when it is not part of mfmarl, "
        "magent2, pettingzoo or mpe2 (code from a run directory is not imported otherwise)",
    )
    add_progress_option(p)
    p.set_defaults(handler=_cmd_resume)


def checkpoint_option(p: argparse.ArgumentParser, default: int) -> None:
    """``--checkpoint-every`` with the command's ``default`` (episodes)."""
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=default,
        metavar="EPISODES",
        help=f"also checkpoint every EPISODES episodes (0: only at the end) [default: {default}]",
    )


# -- Gaussian Squeeze -----------------------------------------------------------------------------
def _squeeze_parser(commands: Any) -> None:
    p = commands.add_parser(
        "gaussian-squeeze",
        help="train one learner on Gaussian Squeeze",
        description="Train one learner on Gaussian Squeeze (docs/method.md 6.1). Defaults come "
        "from the preset for (--algo, --n-agents, --scale); every other option overrides it. "
        + OUTPUTS_NOTE,
    )
    add_common_run_options(p, SCALES, out_required=False)
    add_show_config_option(p)
    checkpoint_option(p, 0)
    add_progress_option(p)
    logger_option(p)
    env = p.add_argument_group("environment", "GaussianSqueezeConfig fields")
    add_dataclass_options(env, GaussianSqueezeConfig, "env")
    algo = p.add_argument_group("algorithm", "AlgorithmConfig fields; override the preset")
    add_dataclass_options(algo, AlgorithmConfig, "algo", (), preset_note)
    train = p.add_argument_group("training", "TrainConfig fields; override the preset")
    add_dataclass_options(train, TrainConfig, "train", (), preset_note)
    p.set_defaults(handler=_cmd_squeeze)


def _cmd_squeeze(args: argparse.Namespace) -> int:
    from mfmarl.experiments.gaussian_squeeze.reproduce import preset_configs, squeeze_spec
    from mfmarl.training.run import train_run
    from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir

    env_config = GaussianSqueezeConfig(**given(args, "env"))
    algo_overrides, train_overrides = given(args, "algo"), given(args, "train")
    algo_config, train_config = preset_configs(
        algo_overrides.get("algo", "mfq"),
        env_config.n_agents,
        args.scale,
        train_overrides.get("episodes"),
    )
    algo_config = replace_fields(algo_config, algo_overrides)
    train_config = replace_fields(train_config, train_overrides)
    spec = squeeze_spec(env_config, algo_config, train_config, args.checkpoint_every)
    spec = with_run_options(spec, args)
    if args.show_config:
        return show_config(env=env_config, algorithm=algo_config, train=train_config)
    if args.out is None:
        raise ConfigError("--out DIR is required")
    from mfmarl.training.run import build_session

    session = build_session(spec)  # every check (the device too) before anything is written
    out = prepare_run_dir(args.out, args.force, RUN_OUTPUTS)
    summary = train_run(
        spec,
        out,
        args.progress,
        command=command_line(args),
        should_stop=args.stop,
        session=session,
    )
    _interrupted(summary, out)
    x_star, g_star = squeeze_optimum(
        env_config.mu, env_config.sigma, (env_config.n_actions - 1) * env_config.n_agents
    )
    print(
        f"{algo_config.algo}, N = {env_config.n_agents}, seed {train_config.seed}: "
        f"{summary.episodes} episodes in {summary.seconds:.1f} s"
    )
    print(
        f"final (mean of the last 10% of episodes): G = {summary.final_G:.2f} "
        f"({summary.final_G / g_star:.3f} G*, G* = {g_star:.2f}), "
        f"x = {summary.final_x:.1f} (x* = {x_star:.1f})"
    )
    print(f"wrote {out}/: config.json, metrics.csv, tb/, checkpoint/, summary.json")
    return 0


# -- Battle ---------------------------------------------------------------------------------------
def _battle_parser(commands: Any) -> None:
    from mfmarl.experiments.battle.env import BattleConfig
    from mfmarl.experiments.battle.preset import SCALES as BATTLE_SCALES
    from mfmarl.experiments.battle.preset import BattleTrainConfig

    p = commands.add_parser(
        "battle",
        help="train one learner on Battle by self-play",
        description="Train one learner on the MAgent2 Battle game by self-play (docs/method.md "
        "6.3): one learner plays both armies, the right one mirrored. Defaults come from the "
        "preset for (--algo, --scale); every other option overrides it. Presets: quick (16 v "
        "16 on 24×24, 200 steps, 300 episodes: about 10 minutes), medium (64 v 64 on 40×40, "
        "400 steps, 400 episodes: 15-30 minutes) and paper (the same with 2000 episodes: "
        "hours). " + OUTPUTS_NOTE,
    )
    add_common_run_options(p, BATTLE_SCALES, out_required=False)
    add_show_config_option(p)
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the killed or stopped run in DIR (as `mfmarl resume DIR`); takes no "
        "other settings",
    )
    checkpoint_option(p, 10)
    add_progress_option(p)
    logger_option(p)
    eval_options(p)
    p.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="train through the generic PettingZoo adapter (MirroredBattleParallelEnv: the "
        "same learner inputs, step for step) instead of the fast MAgent2 path",
    )
    env = p.add_argument_group("environment", "BattleConfig fields; override the preset")
    add_dataclass_options(env, BattleConfig, "battle", (), preset_note)
    algo = p.add_argument_group("algorithm", "AlgorithmConfig fields; override the preset")
    add_dataclass_options(algo, AlgorithmConfig, "algo", (), preset_note)
    train = p.add_argument_group("training", "BattleTrainConfig fields; override the preset")
    add_dataclass_options(train, BattleTrainConfig, "train", (), preset_note)
    p.set_defaults(handler=_cmd_battle)


def _cmd_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS

    from mfmarl.experiments.battle.preset import battle_spec, scaled_preset

    algo_overrides = given(args, "algo")
    overrides = {**given(args, "battle"), **algo_overrides, **given(args, "train")}
    if args.resume is not None:
        if args.out is not None or overrides:
            raise ConfigError(
                "--resume DIR continues the run's own config: drop --out and "
                f"the settings ({', '.join(sorted(overrides)) or '--out'})"
            )
        return _resume(Path(args.resume), args)
    # shorter budgets keep the preset's rule: explore over the first half of the run
    battle, algo_config, train_config = scaled_preset(
        algo_overrides.get("algo", "mfq"), args.scale, overrides
    )
    if args.show_config:
        return show_config(battle=battle, algorithm=algo_config, train=train_config)
    if args.out is None:
        raise ConfigError("--out DIR is required (or --resume DIR)")
    spec = battle_spec(battle, algo_config, train_config, args.checkpoint_every, args.fast)
    require_view_settings(algo_config)  # every check that can fail runs before --force
    spec = with_run_options(spec, args)
    from mfmarl.training.run import build_session

    session = build_session(spec)  # every check before anything is written
    return train_and_report(spec, session, args, train_config.threads)


def train_and_report(spec: Any, session: Any, args: argparse.Namespace, threads: int) -> int:
    """Train the checked ``spec`` (its ``session`` built) into ``--out`` with evaluation
    during training, on ``threads`` torch threads (0: the fastest count a probe of the
    session's networks measures, printed), and print the summary."""
    from mfmarl.training.run import auto_precision, train_run
    from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir
    from mfmarl.training.threads import resolve_threads

    out = prepare_run_dir(args.out, args.force, RUN_OUTPUTS)  # (after every check)
    slots = {g.name: g.n_slots for g in session.env.groups}
    choice = resolve_threads(
        threads,
        list(session.learners.values()),
        [slots[name] for name in session.learners],
        spec.train.batch_size,
    )
    if choice.seconds:
        print(f"torch threads: {choice.describe()}", flush=True)
    precision = auto_precision(spec, session)
    if precision is not None:
        print(f"precision: {precision[0]} (auto, {precision[1]})", flush=True)
    summary = train_run(
        spec,
        out,
        args.progress,
        command=command_line(args),
        should_stop=args.stop,
        evaluator=_evaluator(),
        session=session,
    )
    _report(summary, out)
    return 0


# -- shared by the training commands --------------------------------------------------------------
def logger_option(p: argparse.ArgumentParser) -> None:
    """``--logger``: the metric sinks besides metrics.csv."""
    p.add_argument(
        "--logger",
        nargs="+",
        default=["tensorboard"],
        choices=LOGGERS,
        metavar="NAME",
        help="where metrics go besides metrics.csv: tensorboard (OUT/tb), wandb (offline in "
        "OUT/wandb unless WANDB_MODE says otherwise), mlflow (OUT/mlruns unless "
        "MLFLOW_TRACKING_URI); wandb and mlflow need pip install 'mfmarl[loggers]' "
        "[default: tensorboard]",
    )


def eval_options(p: argparse.ArgumentParser) -> None:
    """The ``--eval-*`` group: evaluation rounds during training."""
    group = p.add_argument_group(
        "evaluation during training",
        "every N episodes the trained side plays rounds against players, logged as "
        "eval/<player>/win_rate with its 95%% Wilson interval (metrics.csv, TensorBoard)",
    )
    group.add_argument(
        "--eval-every",
        type=int,
        default=0,
        metavar="N",
        help="episodes between evaluations (0: none) [default: 0]",
    )
    group.add_argument(
        "--eval-rounds", type=int, default=20, metavar="R", help="rounds per opponent [default: 20]"
    )
    group.add_argument(
        "--eval-opponents",
        nargs="+",
        default=["random"],
        metavar="PLAYER",
        help="players to meet: random, attack-nearest, attack-weakest, mfq-battle-quick, a "
        "run or an export [default: random]",
    )
    group.add_argument(
        "--eval-gif",
        action="store_true",
        help="at each evaluation also record one round against the first player as "
        "OUT/eval/episode_E.gif, shown in TensorBoard's images tab (environments that draw "
        "themselves, e.g. MAgent2) [default: off]",
    )


def with_run_options(spec: Any, args: argparse.Namespace) -> Any:
    """``spec`` with --logger and, where the command has them, the evaluation options,
    checked before anything is written."""
    from mfmarl.evaluation.during_training import check_evaluation

    evaluation = {}
    if hasattr(args, "eval_every"):
        evaluation = {
            "eval_every": args.eval_every,
            "eval_rounds": args.eval_rounds,
            "eval_opponents": tuple(args.eval_opponents),
            "eval_gif": bool(args.eval_gif),
        }
    spec = dataclasses.replace(spec, loggers=tuple(args.logger), **evaluation)
    check_evaluation(spec)
    return spec


def _evaluator() -> Any:
    from mfmarl.evaluation.during_training import evaluate_during_training

    return evaluate_during_training


def frozen_loader() -> Any:
    """The loader of frozen players (imported late: it pulls in the evaluation layer)."""
    from mfmarl.evaluation.players import frozen_policy

    return frozen_policy


# -- resume and reporting -------------------------------------------------------------------------
def _cmd_resume(args: argparse.Namespace) -> int:
    return _resume(Path(args.run), args)


def _resume(out: Path, args: argparse.Namespace) -> int:
    import torch

    from mfmarl.training.run import read_run_record, resume_run
    from mfmarl.training.threads import MAX_THREADS

    if not (out / "config.json").is_file():
        raise ConfigError(f"resume {out}: no training run there (config.json missing)")
    record = read_run_record(out)
    spec = record.spec
    given_env = getattr(args, "confirm_env", None)
    trust = given_env is not None and given_env == spec.env.factory
    if given_env is not None and not trust:
        raise ConfigError(f"--env {given_env}: the run was trained on {spec.env.factory}")
    threads = record.torch_threads  # as the run started
    torch.set_num_threads(threads if threads is not None and threads <= MAX_THREADS else 1)
    summary = resume_run(
        out,
        args.progress,
        args.stop,
        trust_env=trust,
        load_frozen=frozen_loader(),
        evaluator=_evaluator(),
        record=record,
    )
    _report(summary, out)
    return 0


def _interrupted(summary: RunSummary, out: Path) -> None:
    if summary.interrupted:
        print(f"stopped; continue with: {PROG} resume {out}", file=sys.stderr)
        raise KeyboardInterrupt


def _report(summary: RunSummary, out: Path) -> None:
    _interrupted(summary, out)
    roles = ", ".join(f"{g}: {r}" for g, r in summary.roles.items())
    print(
        f"{summary.env} ({roles}): {summary.episodes_this_session} episodes in "
        f"{summary.seconds:.0f} s ({summary.seconds_per_episode:.2f} s/episode)"
    )
    returns = {
        k.split("/")[0]: v
        for k, v in summary.final_metrics.items()
        if k.endswith("/episodic_return") and not k.startswith("charts/")
    }
    if returns:
        text = ", ".join(f"{g} {v:.3g}" for g, v in returns.items())
        print(f"final mean episode return per agent (last 10% of episodes): {text}")
    print(f"wrote {out}/: config.json, metrics.csv, tb/, checkpoint/, summary.json")
