"""``mfmarl train magent2`` and ``mfmarl train pettingzoo``: one run of the one training loop
on any MAgent2 environment or any PettingZoo environment, every group in the roles that
``--role`` gives (registered by :func:`mfmarl.cli.train.add_parsers`, after the paper
experiments' commands)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mfmarl.algorithms import ALGORITHMS, AlgorithmConfig
from mfmarl.cli.options import (
    add_common_run_options,
    add_dataclass_options,
    add_progress_option,
    given,
    preset_note,
    replace_fields,
)
from mfmarl.cli.train import (
    OUTPUTS_NOTE,
    checkpoint_option,
    eval_options,
    frozen_loader,
    logger_option,
    train_and_report,
    with_run_options,
)
from mfmarl.core.errors import ConfigError, require
from mfmarl.training.defaults import default_algorithm, episode_length_hint
from mfmarl.training.loop import TrainConfig


def add_parsers(commands: Any) -> None:
    """``train magent2``, ``train pettingzoo``."""
    _magent2_parser(commands)
    _pettingzoo_parser(commands)


ROLE_HELP = (
    "GROUP=ROLE: who plays a group: mfq, mfac, iql or iac (a learner of its own), shared:G "
    "(group G's learner, learning from both), snapshot:G or pool:G (self-play against frozen "
    "copies of G's learner), random, scripted:NAME (the environment's scripted player, "
    "e.g. attack-nearest on MAgent2 combat games) or frozen:PATH (a trained run); repeat for "
    "more groups [default: every group learns with --algo]"
)
MEAN_FIELD_HELP = (
    "GROUP=RULE: the mean action a group's agents see: own (its own group, the paper's), "
    "another group's name, either with @R for a Chebyshev radius on the grid (own@6), several "
    "joined by + for multi-type mean field (own+blue); repeat for more groups [default: own]"
)


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads; 0 (auto): the count a short probe of the run's networks "
        "measures fastest on this machine (1, 2, 4, ... up to the usable cores; a larger "
        "count only when at least 10%% faster). Give 1 when several runs share the cores "
        "[default: 0]",
    )


def _add_generic_options(p: argparse.ArgumentParser) -> None:
    add_common_run_options(p, None, out_required=False)
    p.add_argument(
        "--show-config",
        action="store_true",
        help="print the resolved configuration (each group's role and algorithm settings, "
        "the training settings: the generic defaults with your overrides) as JSON and exit "
        "without training",
    )
    p.add_argument(
        "--env-kwargs",
        default="{}",
        metavar="JSON",
        help="keyword arguments of the environment factory as a JSON object, e.g. "
        "'{\"map_size\": 30}' [default: {}]",
    )
    p.add_argument(
        "--algo",
        choices=ALGORITHMS,
        default="mfq",
        help="the algorithm of every learning group [default: mfq]",
    )
    p.add_argument("--role", action="append", default=[], metavar="GROUP=ROLE", help=ROLE_HELP)
    p.add_argument(
        "--mean-field", action="append", default=[], metavar="GROUP=RULE", help=MEAN_FIELD_HELP
    )
    checkpoint_option(p, 10)
    _threads_option(p)
    add_progress_option(p)
    logger_option(p)
    eval_options(p)
    algo = p.add_argument_group(
        "algorithm", "AlgorithmConfig fields for every learner; override the defaults"
    )
    add_dataclass_options(algo, AlgorithmConfig, "algo", ("algo",), preset_note)
    train = p.add_argument_group("training", "TrainConfig fields; override the defaults")
    add_dataclass_options(train, TrainConfig, "train", (), preset_note)


def _magent2_parser(commands: Any) -> None:
    from mfmarl.envs.magent2 import MAGENT2_ENVS

    p = commands.add_parser(
        "magent2",
        help="train on any MAgent2 environment (battle, gather, tiger_deer, ...)",
        description="Train on a MAgent2 environment through the fast MAgent2 path (the "
        "env's own engine, map and groups, whole-group arrays), every group learning with "
        "--algo unless --role says otherwise. Defaults: conv networks on the view, Adam lr "
        "1e-4, γ 0.95, ε from 1 to 0.05 and β from 10 to 100 over the first half of the run, "
        "one update per step. " + OUTPUTS_NOTE,
    )
    p.add_argument(
        "--env",
        required=True,
        choices=list(MAGENT2_ENVS),
        help="the MAgent2 environment",
    )
    p.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="go through the generic PettingZoo adapter instead of the fast MAgent2 path",
    )
    _add_generic_options(p)
    p.set_defaults(handler=_cmd_magent2)


def _pettingzoo_parser(commands: Any) -> None:
    p = commands.add_parser(
        "pettingzoo",
        help="train on any PettingZoo ParallelEnv with Discrete actions",
        description="Train on the PettingZoo ParallelEnv that MODULE:FACTORY returns (called "
        "with --env-kwargs). Agents form groups by the prefix of their names (red_3 -> red) or "
        "by --group; every group learns with --algo unless --role says otherwise. " + OUTPUTS_NOTE,
    )
    p.add_argument(
        "--env",
        required=True,
        metavar="MODULE:FACTORY",
        help="the factory of the environment, e.g. mypkg.envs:make_env or "
        "mpe2.simple_spread_v3:parallel_env",
    )
    p.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="AGENT=GROUP",
        help="put AGENT in GROUP (every agent then needs one) [default: by name prefix]",
    )
    _add_generic_options(p)
    p.set_defaults(handler=_cmd_pettingzoo)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        require(bool(sep and key and value), f"{flag} {item!r}: expected NAME=VALUE")
        require(key not in out, f"{flag} {key} is given twice")
        out[key] = value
    return out


def _env_kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs: not JSON ({exc.msg})") from exc
    require(isinstance(value, dict), "--env-kwargs must be a JSON object")
    return value


def _cmd_magent2(args: argparse.Namespace) -> int:
    from mfmarl.envs.source import EnvSource

    kwargs = _env_kwargs(args.env_kwargs)
    source = EnvSource(
        "mfmarl.envs.magent2:make_magent2_parallel_env",
        {"name": args.env, **kwargs},
        {} if args.fast else {"fast": False},
    )
    return _train_generic(args, source, f"magent2-{args.env}", view_defaults=True)


def _cmd_pettingzoo(args: argparse.Namespace) -> int:
    from mfmarl.envs.source import EnvSource, load_factory

    load_factory(args.env)  # a bad factory is a one-line error before anything is written
    groups = _pairs(args.group, "--group")
    adapter = {"groups": groups} if groups else {}
    source = EnvSource(args.env, _env_kwargs(args.env_kwargs), adapter)
    return _train_generic(args, source, args.env, view_defaults=False, trust=True)


def _show_generic_config(
    roles: dict[str, str], algorithms: dict[str, Any], train: Any, steps: int
) -> int:
    """Print what a generic run would train with (``--show-config``)."""
    import dataclasses
    import json

    record = {
        "roles": roles,
        "algorithms": {g: dataclasses.asdict(c) for g, c in algorithms.items()},
        "train": dataclasses.asdict(train),
        "episode_length_hint": steps,
    }
    print(json.dumps(record, indent=2))
    return 0


def _train_generic(
    args: argparse.Namespace, source: Any, name: str, view_defaults: bool, trust: bool = False
) -> int:
    import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS

    from mfmarl.training.roles import parse_role
    from mfmarl.training.spec import RunSpec

    env = source.build(trust=trust)
    names = [g.name for g in env.groups]
    roles = {n: args.algo for n in names}
    roles.update(_pairs(args.role, "--role"))
    parsed = {g: parse_role(r) for g, r in roles.items()}
    train_overrides = given(args, "train")
    train = replace_fields(TrainConfig(episodes=200, learning_starts=1000), train_overrides)
    steps = episode_length_hint(env)
    algo_overrides = given(args, "algo")
    view = view_defaults or any(g.view_shape is not None for g in env.groups)
    algorithms = {
        g: default_algorithm(r.arg, train.episodes, steps, view, algo_overrides)
        for g, r in parsed.items()
        if r.learns
    }
    spec = RunSpec(
        env=source,
        roles=roles,
        algorithms=algorithms,
        train=train,
        mean_field=_pairs(args.mean_field, "--mean-field"),
        checkpoint_every=args.checkpoint_every,
        name=name,
    )
    spec = with_run_options(spec, args)
    if args.show_config:
        return _show_generic_config(roles, algorithms, train, steps)
    require(args.out is not None, "--out DIR is required")
    from mfmarl.training.run import build_session
    from mfmarl.training.threads import check_threads

    check_threads(args.threads, "--threads")

    session = build_session(spec, trust_env=trust, load_frozen=frozen_loader())
    return train_and_report(spec, session, args, args.threads)
