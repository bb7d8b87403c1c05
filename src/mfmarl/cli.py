"""Command line: ``mfmarl train …``, ``mfmarl reproduce …`` and ``mfmarl battle …``.

Options are generated from the config dataclasses: one ``--field-name`` per field, with the
field's docstring (the string literal under it in the class body) as help text. ``Literal``
fields become choices, ``bool`` fields ``--flag/--no-flag`` and ``tuple[int, ...]`` fields
take several values. Bad input ends with one line ``mfmarl: error: …`` and exit code 2;
Ctrl-C stops after the current episode and ends with exit code 130, keeping the files
written.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import inspect
import logging
import os
import signal
import sys
import textwrap
import threading
import time
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn

from mfmarl import __version__
from mfmarl.algorithms import ALGORITHMS, AlgorithmConfig
from mfmarl.algorithms.tabular_mfq import TabularMFQConfig
from mfmarl.core.errors import ConfigError
from mfmarl.envs import GaussianSqueezeConfig, squeeze_optimum
from mfmarl.training.loop import TrainConfig
from mfmarl.training.presets import SCALES, SQUEEZE_METHODS
from mfmarl.training.runtime import tune_cpu_runtime

PROG = "mfmarl"
PRESET_NOTE = "default: from the preset"


# -- options from dataclasses -----------------------------------------------------------------
@cache
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass and its bases: ``{field: one-line text}``.

    An attribute docstring is the string literal on the statement right after the field's
    annotated assignment in the class body (read with :mod:`ast` from the source).
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def flag_name(field_name: str) -> str:
    """``beta_start`` -> ``--beta-start``."""
    return "--" + field_name.replace("_", "-")


def _strip_optional(hint: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _option_kwargs(hint: Any) -> dict[str, Any] | None:
    """argparse keyword arguments for a field type, or None when it has no CLI form."""
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = list(typing.get_args(hint))
        return {"choices": choices, "type": type(choices[0])}
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if hint in (int, float, str):
        return {"type": hint}
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, str):
            return {"type": args[0], "nargs": "*"}
    return None


def _help(doc: str, default_note: str) -> str:
    text = doc or "(undocumented)"
    return f"{text} [{default_note}]".replace("%", "%%")


def add_dataclass_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    prefix: str,
    exclude: Sequence[str] = (),
    default_note: Callable[[dataclasses.Field[Any]], str] | None = None,
) -> list[str]:
    """Add one option per field of dataclass ``cls``; return the field names added.

    Values land in ``args.<prefix>__<field>`` and default to ``None`` (not given), so only
    what the user typed overrides the config. ``default_note(field)`` says in the help where
    the default comes from (the field's own default when not given).
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    added = []
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        kwargs = _option_kwargs(hints[f.name])
        if kwargs is None:
            continue
        if "choices" not in kwargs and "action" not in kwargs:
            kwargs.setdefault("metavar", f.name.upper())
        note = default_note(f) if default_note else f"default: {_field_default(f)}"
        parser.add_argument(
            flag_name(f.name),
            dest=f"{prefix}__{f.name}",
            default=None,
            help=_help(docs.get(f.name, ""), note),
            **kwargs,
        )
        added.append(f.name)
    return added


def _field_default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "none"
    return str(value)


def given(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    """The fields of one dataclass that the user set on the command line."""
    start = f"{prefix}__"
    out = {}
    for key, value in vars(args).items():
        if key.startswith(start) and value is not None:
            out[key[len(start) :]] = tuple(value) if isinstance(value, list) else value
    return out


def _replace(config: Any, overrides: dict[str, Any]) -> Any:
    return dataclasses.replace(config, **overrides) if overrides else config


# -- parser -------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``mfmarl: error: <message>`` and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _preset_note(f: dataclasses.Field[Any]) -> str:
    return PRESET_NOTE


def _add_common_run_options(
    parser: argparse.ArgumentParser, out_required: bool = True, default_scale: str = "quick"
) -> None:
    parser.add_argument(
        "--out",
        required=out_required,
        metavar="DIR",
        help="output directory (created if missing)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reuse a non-empty --out, deleting mfmarl's earlier outputs there",
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default=default_scale,
        help="preset budget: quick (short) or paper (the longer budget) "
        f"[default: {default_scale}]",
    )


def _add_algo_train_groups(
    parser: argparse.ArgumentParser, exclude_algo: Sequence[str], exclude_train: Sequence[str]
) -> None:
    algo = parser.add_argument_group(
        "algorithm", "AlgorithmConfig fields; each overrides the preset's value"
    )
    add_dataclass_options(algo, AlgorithmConfig, "algo", exclude_algo, _preset_note)
    train = parser.add_argument_group(
        "training", "TrainConfig fields; each overrides the preset's value"
    )
    add_dataclass_options(train, TrainConfig, "train", exclude_train, _preset_note)


def _train_squeeze_parser(commands: Any) -> None:
    p = commands.add_parser(
        "gaussian-squeeze",
        help="train one learner on Gaussian Squeeze",
        description="Train one learner on Gaussian Squeeze (docs/method.md 6.1). Defaults come "
        "from the preset for (--algo, --n-agents, --scale); every other option overrides it. "
        "Writes config.json, metrics.csv, tb/, checkpoint/ and summary.json into --out.",
    )
    _add_common_run_options(p)
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="EPISODES",
        help="also checkpoint every EPISODES episodes (0: only at the end) [default: 0]",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )
    env = p.add_argument_group("environment", "GaussianSqueezeConfig fields")
    add_dataclass_options(env, GaussianSqueezeConfig, "env")
    _add_algo_train_groups(p, exclude_algo=(), exclude_train=())
    p.set_defaults(handler=_cmd_train_squeeze)


def _train_battle_parser(commands: Any) -> None:
    from mfmarl.envs.battle import BattleConfig
    from mfmarl.training.battle import BattleTrainConfig

    p = commands.add_parser(
        "battle",
        help="train one learner on Battle by self-play",
        description="Train one learner on the MAgent2 Battle game by self-play (docs/method.md "
        "6.3): one learner plays both armies, the right one mirrored. Defaults come from the "
        "preset for (--algo, --scale); every other option overrides it. Writes config.json, "
        "metrics.csv, tb/, checkpoint/ and summary.json into --out. Presets: paper (64 v 64 "
        "on 40×40, 400 steps, 2000 episodes: hours) and quick (16 v 16 on 24×24, 200 steps).",
    )
    _add_common_run_options(p, out_required=False, default_scale="paper")
    p.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="continue the killed or stopped run in DIR from its last checkpoint, with the "
        "config recorded there (networks, optimizer state, counters and generators restored; "
        "the replay buffer is refilled); takes no other settings",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=10,
        metavar="EPISODES",
        help="also checkpoint every EPISODES episodes (0: only at the end) [default: 10]",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )
    env = p.add_argument_group("environment", "BattleConfig fields; override the preset")
    add_dataclass_options(env, BattleConfig, "battle", (), _preset_note)
    algo = p.add_argument_group(
        "algorithm", "AlgorithmConfig fields; each overrides the preset's value"
    )
    add_dataclass_options(algo, AlgorithmConfig, "algo", (), _preset_note)
    train = p.add_argument_group(
        "training", "BattleTrainConfig fields; each overrides the preset's value"
    )
    add_dataclass_options(train, BattleTrainConfig, "train", (), _preset_note)
    p.set_defaults(handler=_cmd_train_battle)


def _reproduce_squeeze_parser(commands: Any) -> None:
    p = commands.add_parser(
        "gaussian-squeeze",
        help="the paper's Gaussian Squeeze comparison (all algorithms × N × seeds)",
        description="Train every algorithm for every N and seed on Gaussian Squeeze, then "
        "write results.json, learning-curve PNGs and report.md into --out (one run directory "
        "per algorithm, N and seed under --out/runs). Algorithm and training options override "
        "every run's preset.",
    )
    _add_common_run_options(p)
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
    _add_algo_train_groups(p, exclude_algo=("algo",), exclude_train=("seed",))
    p.set_defaults(handler=_cmd_reproduce_squeeze)


ISING_MFQ_FROM_SCALE = ("warmup_sweeps", "sweeps", "measure_sweeps")


def _ising_mfq_note(f: dataclasses.Field[Any]) -> str:
    if f.name in ISING_MFQ_FROM_SCALE:
        return "default: from --scale"
    return f"default: {_field_default(f)}"


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
    _add_common_run_options(p)
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
    p.set_defaults(handler=_cmd_reproduce_ising)


PLAYER_HELP = (
    "a player: a training run's --out directory (its latest checkpoint), a checkpoint "
    "directory, or a built-in: random (uniform actions) or attack-nearest (scripted)"
)


def _add_match_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("player_a", metavar="PLAYER_A", help=PLAYER_HELP)
    p.add_argument("player_b", metavar="PLAYER_B", help=PLAYER_HELP)
    p.add_argument(
        "--map-size",
        type=int,
        default=None,
        help="map side [default: the checkpoints' training map, else 40]",
    )
    p.add_argument(
        "--team-size",
        type=int,
        default=None,
        help="agents per team [default: the checkpoints', else the battle layout's: 64 on a "
        "40 map]",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="steps per round at most [default: the checkpoints', else 400]",
    )


def _battle_parser(commands: Any) -> None:
    p = commands.add_parser(
        "battle",
        help="play two battle players against each other",
        description="Play R rounds of Battle (MAgent2) between PLAYER_A and PLAYER_B, sides "
        "swapped in every second round; a round is won by the side with more kills (a tie "
        "is neither). Writes results.json (wins, ties, win rates with 95%% Wilson intervals, "
        "mean kills, survivors and reward) into --out.",
    )
    _add_match_options(p)
    p.add_argument("--rounds", type=int, default=50, help="rounds to play [default: 50]")
    p.add_argument("--seed", type=int, default=0, help="seed of round 0 (round r: seed + r)")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created if missing)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="reuse a non-empty --out, deleting mfmarl's earlier outputs there",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )
    p.set_defaults(handler=_cmd_battle)


def _render_parser(commands: Any) -> None:
    p = commands.add_parser(
        "render",
        help="write an animated GIF of one battle round",
        description="Play one round of Battle with PLAYER_A on the left (red) and PLAYER_B "
        "on the right (blue) and write it as an animated GIF (drawn headless: one pixel "
        "block per cell, paler with lower hp).",
    )
    _add_match_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the GIF to write, e.g. battle.gif")
    p.add_argument("--seed", type=int, default=0, help="seed of the round [default: 0]")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second [default: 10]")
    p.add_argument("--cell", type=int, default=8, help="pixels per grid cell [default: 8]")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(handler=_cmd_render)


# -- tournaments, the battle reproduction, sweeps; local processes or Ray -------------------------
EXECUTOR_EPILOG = (
    "Parallelism: by default the tasks (training runs, pairs' matches) run in --workers local "
    "processes, one torch thread each. --ray starts a local Ray runtime with --workers CPUs; "
    "--ray-address HOST:PORT (or ray://HOST:PORT, or auto) joins an existing Ray cluster, "
    "one Ray task per training run or match. Ray needs 'pip install mfmarl[ray]' and, on a "
    "cluster, mfmarl on every node and an --out directory on a file system every node shares: "
    "checkpoints and results travel as files there. Results are the same either way for the "
    "same seeds. A failed task is reported with its error; the others still run and are "
    "written, and the command then exits with code 1."
)


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("parallelism", "local worker processes or Ray")
    group.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parallel worker processes (or local Ray CPUs), one torch thread each "
        f"[default: number of CPUs, {os.cpu_count() or 1} here]",
    )
    ray = group.add_mutually_exclusive_group()
    ray.add_argument(
        "--ray",
        action="store_true",
        help="run the tasks on a local Ray runtime started with --workers CPUs",
    )
    ray.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="run the tasks on the Ray cluster at ADDR (host:port, ray://host:port or auto)",
    )


def _add_out_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created if missing)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reuse a non-empty --out, deleting mfmarl's earlier outputs there",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )


def _tournament_parser(commands: Any) -> None:
    p = commands.add_parser(
        "tournament",
        help="round-robin tournament of battle players with ratings",
        description="Every pair of PLAYERs plays R rounds of Battle (exactly `mfmarl battle A "
        "B --rounds R --seed S`: sides swapped every other round, a round won by the side "
        "with more kills). Writes results.json (players, rounds, win_rate, ties, ratings), "
        "matches/<i>-<j>.json, cross_play.png and report.md into --out. Ratings: "
        "Bradley-Terry by maximum likelihood (ties count half a win each, one virtual tie per "
        "pair), with 95% bootstrap intervals over rounds resampled within each pair.",
        epilog=EXECUTOR_EPILOG,
    )
    p.add_argument(
        "players",
        nargs="+",
        metavar="PLAYER",
        help="a training run directory, a checkpoint directory, or a built-in: random, "
        "attack-nearest (at least 2)",
    )
    p.add_argument("--rounds", type=int, default=50, help="rounds per pair [default: 50]")
    p.add_argument("--seed", type=int, default=0, help="seed of round 0 (round r: seed + r)")
    p.add_argument(
        "--map-size",
        type=int,
        default=None,
        help="map side [default: from the checkpoints, else 40]",
    )
    p.add_argument(
        "--team-size",
        type=int,
        default=None,
        help="agents per team [default: from the checkpoints, else the battle layout's]",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="steps per round at most [default: from the checkpoints, else 400]",
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=2000,
        help="bootstrap resamples for the rating intervals [default: 2000]",
    )
    _add_out_options(p)
    _add_executor_options(p)
    p.set_defaults(handler=_cmd_tournament)


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
        "cores with K = 1; --scale paper (64 v 64 on 40×40, 2000 episodes) takes about 46 "
        "CPU hours per seed on such cores (printed before it starts). For a smoke test: "
        "--episodes 2 --max-steps 10 --map-size 20 --rounds 2.",
        epilog=EXECUTOR_EPILOG,
    )
    _add_common_run_options(p)
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
        default=50,
        help="tournament rounds per pair of players [default: 50, the paper's]",
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
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )
    _add_executor_options(p)
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
    _add_common_run_options(p)
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
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )
    _add_executor_options(p)
    p.set_defaults(handler=_cmd_sweep_battle)


def build_parser() -> argparse.ArgumentParser:
    """The ``mfmarl`` argument parser."""
    parser = _Parser(
        prog=PROG,
        description="Mean field multi-agent reinforcement learning (MF-Q, MF-AC, and the "
        "independent baselines IL and AC; Yang et al. 2018).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress messages to stderr"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train = commands.add_parser(
        "train", help="train one learner", description="Train one learner on an environment."
    )
    train_envs = train.add_subparsers(dest="env", metavar="ENV", required=True)
    _train_squeeze_parser(train_envs)
    _train_battle_parser(train_envs)
    reproduce = commands.add_parser(
        "reproduce",
        help="reproduce an experiment of the paper",
        description="Reproduce an experiment of the paper: many runs, then a report.",
    )
    reproduce_envs = reproduce.add_subparsers(dest="env", metavar="EXPERIMENT", required=True)
    _reproduce_squeeze_parser(reproduce_envs)
    _reproduce_ising_parser(reproduce_envs)
    _reproduce_battle_parser(reproduce_envs)
    _battle_parser(commands)
    _render_parser(commands)
    _tournament_parser(commands)
    _sweep_parser(commands)
    return parser


# -- Ctrl-C -------------------------------------------------------------------------------------
class StopRequest:
    """SIGINT handler: the first Ctrl-C asks the work to stop after the current episode (so
    files and writers close cleanly); a second one raises :class:`KeyboardInterrupt` at once.

    Calling the object tells whether a stop was asked for.
    """

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, signum: int, frame: types.FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


@contextlib.contextmanager
def graceful_sigint(stop: StopRequest) -> Iterator[None]:
    """Route SIGINT to ``stop`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, stop.handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- commands -----------------------------------------------------------------------------------
def _command_line(args: argparse.Namespace) -> list[str]:
    return [PROG, *args.argv]


def _cmd_train_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401  (torch before magent2, which sets OMP_NUM_THREADS)

    from mfmarl.evaluation.battle_runs import scaled_preset
    from mfmarl.training.battle import load_battle_run, run_battle_training
    from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir

    algo_overrides = given(args, "algo")
    overrides = {**given(args, "battle"), **algo_overrides, **given(args, "train")}
    if args.resume is not None:
        if args.out is not None or overrides:
            raise ConfigError(
                "--resume DIR continues the run's own config: drop --out and "
                f"the settings ({', '.join(sorted(overrides)) or '--out'})"
            )
        out = Path(args.resume)
        if not (out / "config.json").is_file():
            raise ConfigError(f"--resume {out}: no training run there (config.json missing)")
        battle, algo_config, train_config, every = load_battle_run(out)
        summary = run_battle_training(
            battle,
            algo_config,
            train_config,
            out,
            args.progress,
            every,
            resume=True,
            should_stop=args.stop,
        )
    else:
        if args.out is None:
            raise ConfigError("--out DIR is required (or --resume DIR)")
        # shorter budgets keep the preset's rule: explore over the first half of the run
        battle, algo_config, train_config = scaled_preset(
            algo_overrides.get("algo", "mfq"), args.scale, overrides
        )
        out = prepare_run_dir(args.out, args.force, RUN_OUTPUTS)
        summary = run_battle_training(
            battle,
            algo_config,
            train_config,
            out,
            progress=args.progress,
            checkpoint_every=args.checkpoint_every,
            command=_command_line(args),
            should_stop=args.stop,
        )
    if summary["stopped_early"]:
        print(f"stopped; continue with: {PROG} train battle --resume {out}", file=sys.stderr)
    print(
        f"{summary['algo']} battle {summary['team_size']} v {summary['team_size']} on "
        f"{summary['map_size']}x{summary['map_size']} ({summary['device']}): "
        f"{summary['episodes_this_session']} episodes in {summary['seconds']:.0f} s "
        f"({summary['seconds_per_episode']:.2f} s/episode, "
        f"{summary['env_steps_per_second']:.1f} env steps/s)"
    )
    print(f"wrote {out}/: config.json, metrics.csv, tb/, checkpoint/, summary.json")
    return 0


def _cmd_train_squeeze(args: argparse.Namespace) -> int:
    from mfmarl.evaluation.gaussian_squeeze import preset_configs
    from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir
    from mfmarl.training.runner import train_run

    env_config = GaussianSqueezeConfig(**given(args, "env"))
    algo_overrides, train_overrides = given(args, "algo"), given(args, "train")
    algo_config, train_config = preset_configs(
        algo_overrides.get("algo", "mfq"),
        env_config.n_agents,
        args.scale,
        train_overrides.get("episodes"),
    )
    algo_config = _replace(algo_config, algo_overrides)
    train_config = _replace(train_config, train_overrides)
    if args.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every={args.checkpoint_every} must be >= 0")
    out = prepare_run_dir(args.out, args.force, RUN_OUTPUTS)
    summary = train_run(
        env_config,
        algo_config,
        train_config,
        out,
        progress=args.progress,
        checkpoint_every=args.checkpoint_every,
        command=_command_line(args),
        should_stop=args.stop,
    )
    if summary.interrupted:
        raise KeyboardInterrupt
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


def _cmd_reproduce_squeeze(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mfmarl.evaluation.gaussian_squeeze import (
        SqueezeExperiment,
        headline,
        plan_runs,
        reproduce_gaussian_squeeze,
        summary_table,
    )
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir

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
    out = prepare_run_dir(args.out, args.force, EXPERIMENT_OUTPUTS)
    print(f"{len(jobs)} runs with {min(args.workers, len(jobs))} worker(s) into {out}/runs")
    with tqdm(total=len(jobs), desc="runs", unit="run", dynamic_ncols=True) as bar:

        def done(summary: Any) -> None:
            bar.set_postfix_str(f"{Path(summary.run_dir).name}: {summary.seconds:.0f} s")
            bar.update(1)

        results = reproduce_gaussian_squeeze(
            experiment, out, args.workers, done, command=_command_line(args), should_stop=args.stop
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

    from mfmarl.evaluation.ising import IsingExperiment, plan_jobs, reproduce_ising, summary_text
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir

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
    out = prepare_run_dir(args.out, args.force, EXPERIMENT_OUTPUTS)
    print(f"{len(jobs)} jobs ({len(experiment.grid)} temperatures each) into {out}")
    start = time.perf_counter()
    with tqdm(total=len(jobs), desc="jobs", unit="job", dynamic_ncols=True) as bar:

        def done(result: Any) -> None:
            job = result.job
            bar.set_postfix_str(f"{job.method} {job.variant} s{job.seed}: {result.seconds:.0f} s")
            bar.update(1)

        results = reproduce_ising(
            experiment, out, args.workers, done, _command_line(args), should_stop=args.stop
        )
    print(summary_text(results))
    print(f"{time.perf_counter() - start:.1f} s")
    plots = sorted(p.name for p in out.glob("*.png"))
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    print(f"plots:   {', '.join(str(out / p) for p in plots)}")
    return 0


def _match_setup(args: argparse.Namespace) -> tuple[Any, tuple[Any, Any], tuple[str, str]]:
    """The battle config and the two players of ``battle`` / ``render``."""
    from mfmarl.evaluation.players import make_player, match_config

    names = (args.player_a, args.player_b)
    players = (make_player(names[0]), make_player(names[1]))
    config = match_config(players, args.map_size, args.team_size, args.max_steps)
    return config, players, names


def _cmd_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import
    from tqdm import tqdm

    from mfmarl.evaluation.battle import play_match
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir, write_json_atomic

    if args.rounds < 1:
        raise ConfigError(f"--rounds={args.rounds} must be >= 1")
    config, players, names = _match_setup(args)
    out = prepare_run_dir(args.out, args.force, EXPERIMENT_OUTPUTS)
    score = [0, 0]
    with tqdm(
        total=args.rounds,
        desc="rounds",
        unit="round",
        dynamic_ncols=True,
        disable=not args.progress,
    ) as bar:

        def done(result: Any) -> None:
            if result.kills[0] != result.kills[1]:
                score[int(result.kills[1] > result.kills[0])] += 1
            bar.set_postfix_str(f"A {score[0]} : {score[1]} B")
            bar.update(1)

        results = play_match(config, players, names, args.rounds, args.seed, done)
    write_json_atomic(out / "results.json", results)
    low, high = results["win_rate_ci95"][0]
    print(
        f"{names[0]} vs {names[1]} on a {config.map_size} map, {config.n_agents} v "
        f"{config.n_agents}, {args.rounds} rounds: wins {results['wins'][0]} : "
        f"{results['wins'][1]}, ties {results['ties']}; A's win rate "
        f"{results['win_rate'][0]:.2f} (95% CI {low:.2f}-{high:.2f})"
    )
    print(f"results: {out / 'results.json'}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.evaluation.render import render_battle_gif

    out = Path(args.out)
    if out.suffix.lower() != ".gif":
        raise ConfigError(f"--out {out}: the file name must end in .gif")
    if out.exists() and not args.force:
        raise ConfigError(f"--out {out} exists; pass --force to overwrite it")
    if args.fps <= 0 or args.cell < 1:
        raise ConfigError(f"--fps={args.fps} must be > 0 and --cell={args.cell} >= 1")
    config, players, names = _match_setup(args)
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: no such directory {out.parent}")
    result = render_battle_gif(config, players, out, args.seed, args.fps, args.cell)
    print(
        f"{names[0]} (red) vs {names[1]} (blue) on a {config.map_size} map: kills "
        f"{result.kills[0]} : {result.kills[1]} in {result.steps} steps"
    )
    print(f"wrote {out}")
    return 0


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """The executor chosen by --workers / --ray / --ray-address, closed afterwards."""
    from mfmarl.training.executor import make_executor

    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers} must be >= 1")
    executor = make_executor(args.workers, args.ray, args.ray_address)
    try:
        yield executor
    finally:
        executor.close()


def _task_bar(args: argparse.Namespace, total: int, desc: str, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=not args.progress)


def _report_failures(failures: Sequence[Any], total: int, what: str, plural: str, out: Path) -> int:
    """Exit code 1 and one line per failed task on stderr, or 0 when none failed."""
    if not failures:
        return 0
    for failure in failures:
        print(f"{PROG}: {what} {failure.key} failed: {failure.error}", file=sys.stderr)
    print(
        f"{PROG}: {len(failures)} of {total} {plural} failed; the rest is written in {out}/ "
        "(see failures.json)",
        file=sys.stderr,
    )
    return 1


def _cmd_tournament(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.evaluation.tournament import (
        TOURNAMENT_OUTPUTS,
        check_players,
        run_tournament,
        summary_text,
    )
    from mfmarl.training.rundir import prepare_run_dir

    if args.rounds < 1:
        raise ConfigError(f"--rounds={args.rounds} must be >= 1")
    if args.resamples < 1:
        raise ConfigError(f"--resamples={args.resamples} must be >= 1")
    config = check_players(
        args.players, args.players, args.map_size, args.team_size, args.max_steps
    )
    with _executor(args) as executor:
        out = prepare_run_dir(args.out, args.force, TOURNAMENT_OUTPUTS)
        n = len(args.players)
        pairs = n * (n - 1) // 2
        print(
            f"{n} players, {pairs} pairs x {args.rounds} rounds on a {config.map_size} map "
            f"({config.n_agents} v {config.n_agents}), {executor.description}"
        )
        with _task_bar(args, pairs, "matches", "match") as bar:

            def done(result: Any) -> None:
                bar.set_postfix_str(result.key if result.ok else f"{result.key}: FAILED")
                bar.update(1)

            outcome = run_tournament(
                args.players,
                config,
                args.rounds,
                args.seed,
                out,
                executor,
                resamples=args.resamples,
                on_done=done,
                should_stop=args.stop,
                command=_command_line(args),
            )
    print(summary_text(outcome))
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    print(f"plot:    {out / 'cross_play.png'}")
    return _report_failures(outcome.failures, pairs, "match", "matches", out)


def _fixed_settings(items: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` with one value each."""
    from mfmarl.evaluation.battle_runs import parse_assignments

    grid = parse_assignments(items)
    for key, values in grid.items():
        if len(values) != 1:
            raise ConfigError(f"--set {key}: give one value here (sweeps: mfmarl sweep battle)")
    return {key: values[0] for key, values in grid.items()}


def _cmd_reproduce_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.evaluation.battle_reproduce import (
        BATTLE_OUTPUTS,
        BattleExperiment,
        cost_text,
        plan_runs,
        reproduce_battle,
        summary_text,
    )
    from mfmarl.training.rundir import prepare_run_dir

    overrides = _fixed_settings(args.settings)
    for key in ("episodes", "map_size", "max_steps"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    experiment = BattleExperiment(
        scale=args.scale,
        seeds=args.seeds,
        algos=tuple(args.algos),
        rounds=args.rounds,
        resamples=args.resamples,
        overrides=overrides,
        seed=args.seed,
    )
    jobs = plan_runs(experiment, Path(args.out))  # validates every run's config before writing
    with _executor(args) as executor:
        out = prepare_run_dir(args.out, args.force, BATTLE_OUTPUTS)
        players = len(jobs) + 2
        total = len(jobs) + players * (players - 1) // 2
        print(
            f"{len(jobs)} training runs, then a {players}-player tournament, on "
            f"{executor.description}, into {out}"
        )
        print(cost_text(experiment, args.workers))
        with _task_bar(args, total, "tasks", "task") as bar:

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
                command=_command_line(args),
                should_stop=args.stop,
            )
    print(summary_text(outcome.results))
    print(f"{outcome.results['seconds'] / 60:.1f} min")
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    return _report_failures(outcome.failures, outcome.tasks, "task", "tasks", out)


def _cmd_sweep_battle(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

    from mfmarl.evaluation.battle_runs import parse_assignments
    from mfmarl.evaluation.sweep import SWEEP_OUTPUTS, SweepExperiment, plan_sweep, run_sweep
    from mfmarl.training.rundir import prepare_run_dir

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
    with _executor(args) as executor:
        out = prepare_run_dir(args.out, args.force, SWEEP_OUTPUTS)
        print(f"{len(jobs)} runs on {executor.description} into {out}/runs")
        with _task_bar(args, len(jobs), "runs", "run") as bar:

            def done(result: Any) -> None:
                note = f"{result.seconds:.0f} s" if result.ok else "FAILED"
                bar.set_postfix_str(f"{result.key}: {note}")
                bar.update(1)

            outcome = run_sweep(
                experiment, out, executor, done, _command_line(args), should_stop=args.stop
            )
    for run in outcome.results["runs"]:
        vs = run["vs_random"]
        status = "ok" if run["status"] == "ok" else f"FAILED ({run['error']})"
        win = "" if vs is None else f", vs random {vs:.2f}"
        print(f"{run['name']}: {status}{win}")
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    return _report_failures(outcome.failures, len(jobs), "run", "runs", out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse error (already printed)
        return exc.code if isinstance(exc.code, int) else 0
    args.argv = argv
    args.stop = StopRequest()
    tune_cpu_runtime()  # before torch starts its threads, which inherit the float mode
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        with graceful_sigint(args.stop):
            return int(args.handler(args))
    except ConfigError as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; files written so far are kept", file=sys.stderr)
        return 130
