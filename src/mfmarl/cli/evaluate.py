"""``mfmarl evaluate`` (a trained run's groups against the same groups played at random) and
``mfmarl export`` (a run reduced to the networks its players act with)."""

from __future__ import annotations

import argparse
from typing import Any

from mfmarl.cli.options import add_out_options
from mfmarl.cli.play import add_arena_options, build_arena, check_seed, write_play_config
from mfmarl.core.errors import require


def add_parsers(commands: Any) -> None:
    """``evaluate``, ``export`` (after the play commands in ``mfmarl --help``)."""
    _evaluate_parser(commands)
    _export_parser(commands)


def _export_parser(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="write only what a trained player acts with, to share it",
        description="Reduce a training run (or checkpoint) to its players' networks: writes "
        "--out/policy.safetensors with the network each learning group acts with (its policy "
        "average when the run kept one) and, in the safetensors header, the algorithm "
        "config, observation and action sizes, ā rules, roles, environment and mfmarl "
        "version. Every command that takes a PLAYER accepts the directory or the file.",
    )
    p.add_argument("run", metavar="RUN", help="a training run's --out directory or checkpoint")
    add_out_options(p)
    p.set_defaults(handler=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from mfmarl.evaluation.export import EXPORT_FILE, export_learners
    from mfmarl.evaluation.players import load_player
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir

    player = load_player(args.run)
    require(player.trained, f"export: {args.run!r} is a built-in player; nothing to export")
    unique: dict[str, Any] = {}
    roles: dict[str, str] = {}
    for group, learner in player.learners.items():
        leader = next((g for g, known in unique.items() if known is learner), None)
        if leader is None:
            unique[group] = learner
            roles[group] = learner.config.algo
        else:
            roles[group] = f"shared:{leader}"
    record = {
        "roles": roles,
        "mean_field": dict(player.rules),
        "env": player.env.to_dict() if player.env is not None else None,
    }
    out = prepare_run_dir(args.out, args.force, (*EXPERIMENT_OUTPUTS, EXPORT_FILE))
    path = export_learners(unique, record, out / EXPORT_FILE)
    size = path.stat().st_size / 1e6
    print(
        f"exported {', '.join(unique)} ({', '.join(roles)} play with them): {path}, {size:.1f} MB"
    )
    return 0


def _evaluate_parser(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="compare each trained group's return with the same group played at random",
        description="For every group the run trained (or those given with --groups): K "
        "episodes with every group played by the run's trained policies, and K episodes with "
        "the same seeds in which that group alone plays uniform random actions. Prints and "
        "writes (results.json) each group's mean episode return per agent both ways and the "
        "paired difference with its 95% Student-t interval; config.json records the command.",
    )
    p.add_argument("run", metavar="RUN", help="a training run's --out directory")
    p.add_argument("--episodes", type=int, default=30, help="paired episodes [default: 30]")
    p.add_argument("--seed", type=int, default=10_000, help="seed of episode 0 [default: 10000]")
    p.add_argument("--groups", nargs="+", default=None, metavar="GROUP", help="groups to test")
    add_arena_options(p)
    add_out_options(p)
    p.set_defaults(handler=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from mfmarl.evaluation.players import load_player
    from mfmarl.evaluation.returns import compare_with_random
    from mfmarl.training.roles import parse_role
    from mfmarl.training.run import read_run_spec
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir, write_json_atomic

    require(2 <= args.episodes <= 100_000, f"--episodes={args.episodes} must be in [2, 100000]")
    check_seed(args.seed)
    require(1 <= args.threads <= 1024, f"--threads={args.threads} must be in [1, 1024]")
    torch.set_num_threads(args.threads)
    spec = read_run_spec(args.run)
    player = load_player(args.run)
    arena = build_arena(args, [player], sides=False)
    env = arena.build()
    roles = {g: parse_role(r) for g, r in spec.roles.items()}
    trained = [g for g, r in roles.items() if r.kind in ("learn", "shared")]
    groups = list(args.groups or trained)
    names = [g.name for g in env.groups]
    unknown = [g for g in groups if g not in names]
    require(not unknown, f"--groups: no group {', '.join(unknown)} in {', '.join(names)}")
    others = {  # groups the run has no learner for are played as in training
        g: load_player(r.arg or r.kind)
        for g, r in roles.items()
        if g not in player.learners and r.kind in ("random", "scripted", "frozen")
    }
    for g, group in enumerate(env.groups):  # every group playable before anything is written
        others.get(group.name, player).actor(env, g, 0)
    out = prepare_run_dir(args.out, args.force, EXPERIMENT_OUTPUTS)
    write_play_config(
        out,
        args,
        "evaluate",
        {"run": str(args.run), "env": arena.env.to_dict(), "groups": groups},
        episodes=args.episodes,
    )
    with tqdm(total=args.episodes, desc="episodes", disable=not args.progress) as bar:
        results = compare_with_random(
            env,
            player,
            groups,
            args.episodes,
            args.seed,
            lambda e: bar.update(1),
            others,
            should_stop=args.stop,
        )
    played = results[0].episodes if results else args.episodes
    record = {
        "run": str(args.run),
        "env": arena.env.to_dict(),
        "episodes": played,
        "interrupted": played < args.episodes,
        "seed": args.seed,
        "groups": [r.to_dict() for r in results],
    }
    write_json_atomic(out / "results.json", record)
    print(f"{'group':<12} {'trained':>9} {'random':>9} {'difference [95% CI]':>30}  beats random")
    for r in results:
        ci = f"{r.difference:+.3f} [{r.ci95[0]:+.3f}, {r.ci95[1]:+.3f}]"
        verdict = "yes" if r.beats_random else "NO"
        print(f"{r.group:<12} {r.trained:>9.3f} {r.random:>9.3f} {ci:>30}  {verdict}")
    print(f"mean episode return per agent over {played} paired episodes")
    print(f"results: {out / 'results.json'}")
    if record["interrupted"]:
        raise KeyboardInterrupt
    return 0
