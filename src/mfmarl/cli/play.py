"""``mfmarl battle``, ``mfmarl render`` and ``mfmarl tournament``: trained and built-in
players against each other, on the environment the trained players were trained on; and the
arena options and checks that ``mfmarl evaluate`` shares (:mod:`mfmarl.cli.evaluate`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mfmarl.cli.options import (
    EXECUTOR_EPILOG,
    add_executor_options,
    add_out_options,
    add_resume_option,
    command_line,
    executor_from,
    finite_float,
    open_out,
    report_failures,
    task_bar,
)
from mfmarl.core.errors import ConfigError, require

PLAYER_HELP = (
    "a player: a training run's --out directory (its latest checkpoint), a learner's "
    "checkpoint directory, an exported policy (mfmarl export), or a built-in: random "
    "(uniform actions), attack-nearest or attack-weakest (scripted, MAgent2 combat games), "
    "mfq-battle-quick (a pretrained MF-Q Battle player, quick scale)"
)
MAX_ROUNDS = 1_000_000


def add_parsers(commands: Any) -> None:
    _battle_parser(commands)
    _render_parser(commands)
    _tournament_parser(commands)


def write_play_config(
    out: Path, args: argparse.Namespace, command: str, settings: dict[str, Any], **more: Any
) -> None:
    """``OUT/config.json`` of a play command (``battle``, ``evaluate``): what it plays, its
    seed, mfmarl's version and the command line."""
    from mfmarl import __version__
    from mfmarl.training.rundir import write_json_atomic

    record = {
        "experiment": command,
        **settings,
        **more,
        "seed": args.seed,
        "threads": args.threads,
        "mfmarl_version": __version__,
        "command": command_line(args),
    }
    write_json_atomic(out / "config.json", record)


def add_arena_options(p: argparse.ArgumentParser) -> None:
    """--env, --env-kwargs, --map-size, --team-size, --max-steps and --threads."""
    p.add_argument(
        "--env",
        default=None,
        metavar="MODULE:FACTORY",
        help="play in this environment (its factory; with --env-kwargs) instead of the one "
        "the trained players were trained on; also confirms a run's own factory when it is "
        "not part of mfmarl, magent2, pettingzoo or mpe2",
    )
    p.add_argument(
        "--env-kwargs",
        default=None,
        metavar="JSON",
        help="keyword arguments of --env's factory as a JSON object",
    )
    p.add_argument(
        "--map-size",
        type=int,
        default=None,
        help="map side [default: the players' training map, else Battle's 40]",
    )
    p.add_argument(
        "--team-size",
        type=int,
        default=None,
        help="Battle: agents per team [default: the players', else the battle layout's: 64 "
        "on a 40 map]",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="steps per round at most [default: the players', else 400]",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads for acting [default: 1]"
    )


def check_seed(seed: int) -> None:
    """A seed numpy and torch both accept."""
    require(0 <= seed < 2**32, f"--seed={seed} must be in [0, 2**32)")


def build_arena(args: argparse.Namespace, players: list[Any], sides: bool = True) -> Any:
    """The arena of ``battle``/``render``/``tournament``/``evaluate``: as the players were
    trained (they must agree), or --env; --map-size, --team-size, --max-steps on top. With
    ``sides``, its two sides are filled in (``evaluate`` needs none: one group is enough)."""
    import json

    from mfmarl.envs.source import EnvSource
    from mfmarl.evaluation.matches import arena_for
    from mfmarl.experiments.battle.env import battle_source

    env = None
    if args.env is not None:
        kwargs: Any = None
        if args.env_kwargs is not None:
            try:
                kwargs = json.loads(args.env_kwargs)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--env-kwargs: not JSON ({exc.msg})") from exc
            require(isinstance(kwargs, dict), "--env-kwargs must be a JSON object")
        recorded = [p.env for p in players if p.trained and p.env is not None]
        same = [r for r in recorded if r.factory == args.env]
        if kwargs is None and same:  # --env confirms the run's own factory: keep its settings
            env = EnvSource(args.env, dict(same[0].kwargs), same[0].adapter)
        else:
            env = EnvSource(args.env, kwargs or {})
    elif args.env_kwargs is not None:
        raise ConfigError("--env-kwargs needs --env")
    overrides = {
        "map_size": args.map_size,
        "team_size": args.team_size,
        "max_steps": args.max_steps,
    }
    arena = arena_for(players, battle_source(), overrides, env)
    if not arena.trust and not arena.env.trusted():
        raise ConfigError(
            f"the players were trained on {arena.env.factory}, which is not part of mfmarl, "
            "magent2, pettingzoo or mpe2: name it with --env to run it"
        )
    return arena.resolved() if sides else arena


def _setup(args: argparse.Namespace) -> tuple[Any, tuple[Any, Any], tuple[str, str]]:
    """The arena and the two players of ``battle`` / ``render``."""
    import torch

    from mfmarl.evaluation.players import load_player

    require(1 <= args.threads <= 1024, f"--threads={args.threads} must be in [1, 1024]")
    torch.set_num_threads(args.threads)
    names = (args.player_a, args.player_b)
    players = (load_player(names[0]), load_player(names[1]))
    return build_arena(args, list(players)), players, names


def _battle_parser(commands: Any) -> None:
    p = commands.add_parser(
        "battle",
        help="play two players against each other",
        description="Play R rounds between PLAYER_A and PLAYER_B, sides swapped in every "
        "second round, in the environment the trained players were trained on (Battle when "
        "both are built-ins); a round is won by the side with more kills (a tie is neither). "
        "Writes config.json (players, arena, rounds, seed, command) and results.json (wins, "
        "ties, win rates with 95% Wilson intervals, mean kills, "
        "survivors and reward) into --out.",
    )
    p.add_argument("player_a", metavar="PLAYER_A", help=PLAYER_HELP)
    p.add_argument("player_b", metavar="PLAYER_B", help=PLAYER_HELP)
    add_arena_options(p)
    p.add_argument("--rounds", type=int, default=50, help="rounds to play [default: 50]")
    p.add_argument("--seed", type=int, default=0, help="seed of round 0 (round r: seed + r)")
    add_out_options(p)
    p.set_defaults(handler=_cmd_battle)


def _cmd_battle(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mfmarl.evaluation.matches import check_fit, play_match
    from mfmarl.training.rundir import EXPERIMENT_OUTPUTS, prepare_run_dir, write_json_atomic

    require(1 <= args.rounds <= MAX_ROUNDS, f"--rounds={args.rounds} must be in [1, {MAX_ROUNDS}]")
    check_seed(args.seed)
    arena, players, names = _setup(args)
    env = arena.build()  # a bad environment or player fails here, before --force removes
    check_fit(env, arena, players)
    out = prepare_run_dir(args.out, args.force, EXPERIMENT_OUTPUTS)
    write_play_config(
        out,
        args,
        "battle",
        {"players": list(names), "arena": arena.to_dict(), "rounds": args.rounds},
    )
    score = [0, 0]
    with tqdm(
        total=args.rounds,
        desc="rounds",
        unit="round",
        dynamic_ncols=True,
        disable=not args.progress,
    ) as bar:

        def done(result: Any) -> None:
            if result.winner is not None:
                score[result.winner] += 1
            bar.set_postfix_str(f"A {score[0]} : {score[1]} B")
            bar.update(1)

        results = play_match(arena, players, names, args.rounds, args.seed, done, args.stop)
    write_json_atomic(out / "results.json", results)
    low, high = results["win_rate_ci95"][0]
    print(
        f"{names[0]} vs {names[1]} on {arena.describe(env)}, {results['rounds']} rounds: wins "
        f"{results['wins'][0]} : {results['wins'][1]}, ties {results['ties']}; A's win rate "
        f"{results['win_rate'][0]:.2f} (95% CI {low:.2f}-{high:.2f})"
    )
    print(f"results: {out / 'results.json'}")
    if results["interrupted"]:
        raise KeyboardInterrupt
    return 0


def _render_parser(commands: Any) -> None:
    p = commands.add_parser(
        "render",
        help="write an animated GIF of one round",
        description="Play one round with PLAYER_A on the first side (red, left) and PLAYER_B "
        "on the second (blue, right) and write it as an animated GIF (drawn headless: one "
        "pixel block per cell, paler with lower hp).",
    )
    p.add_argument("player_a", metavar="PLAYER_A", help=PLAYER_HELP)
    p.add_argument("player_b", metavar="PLAYER_B", help=PLAYER_HELP)
    add_arena_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="the GIF to write, e.g. battle.gif")
    p.add_argument("--seed", type=int, default=0, help="seed of the round [default: 0]")
    p.add_argument("--fps", type=finite_float, default=10.0, help="frames per second [default: 10]")
    p.add_argument("--cell", type=int, default=8, help="pixels per grid cell [default: 8]")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(handler=_cmd_render)


def _cmd_render(args: argparse.Namespace) -> int:
    from mfmarl.evaluation.matches import check_fit
    from mfmarl.evaluation.render import render_gif

    out = Path(args.out)
    require(out.suffix.lower() == ".gif", f"--out {out}: the file name must end in .gif")
    require(not out.exists() or args.force, f"--out {out} exists; pass --force to overwrite it")
    require(0 < args.fps <= 100, f"--fps={args.fps} must be in (0, 100]")
    require(1 <= args.cell <= 64, f"--cell={args.cell} must be in [1, 64]")
    check_seed(args.seed)
    arena, players, names = _setup(args)
    check_fit(arena.build(), arena, players)
    require(out.parent.is_dir(), f"--out {out}: no such directory {out.parent}")
    _check_writable(out.parent)
    result = render_gif(arena, players, out, args.seed, args.fps, args.cell)
    if args.stop():  # the round was short enough to finish: its GIF is written
        print(f"wrote {out}")
        raise KeyboardInterrupt
    print(
        f"{names[0]} ({'+'.join(arena.sides[0])}) vs {names[1]} ({'+'.join(arena.sides[1])}): "
        f"kills {result.kills[0]} : {result.kills[1]} in {result.steps} steps"
    )
    print(f"wrote {out}")
    return 0


def _check_writable(directory: Path) -> None:
    """Raise a ConfigError unless a file can be created in ``directory`` (checked before a
    round is played, not after)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ConfigError(f"--out: cannot write in {directory} ({exc.strerror})") from exc


def _tournament_parser(commands: Any) -> None:
    p = commands.add_parser(
        "tournament",
        help="round-robin tournament of players with ratings",
        description="Every pair of PLAYERs plays R rounds (exactly `mfmarl battle A B "
        "--rounds R --seed S`: sides swapped every other round, a round won by the side with "
        "more kills). Writes results.json (players, rounds, win_rate, ties, ratings), "
        "matches/<i>-<j>.json, cross_play.png and report.md into --out. Ratings: "
        "Bradley-Terry by maximum likelihood (ties count half a win each, one virtual tie per "
        "pair), with 95% bootstrap intervals over rounds resampled within each pair.",
        epilog=EXECUTOR_EPILOG,
    )
    p.add_argument(
        "players",
        nargs="+",
        metavar="PLAYER",
        help="at least 2: " + PLAYER_HELP,
    )
    add_arena_options(p)
    p.add_argument("--rounds", type=int, default=50, help="rounds per pair [default: 50]")
    p.add_argument("--seed", type=int, default=0, help="seed of round 0 (round r: seed + r)")
    p.add_argument(
        "--resamples",
        type=int,
        default=2000,
        help="bootstrap resamples for the rating intervals [default: 2000]",
    )
    add_out_options(p)
    add_executor_options(p)
    add_resume_option(p)
    p.set_defaults(handler=_cmd_tournament)


def _cmd_tournament(args: argparse.Namespace) -> int:
    from mfmarl.evaluation.matches import check_fit
    from mfmarl.evaluation.players import load_player
    from mfmarl.evaluation.tournament import (
        TOURNAMENT_OUTPUTS,
        check_names,
        run_tournament,
        summary_text,
    )

    require(1 <= args.rounds <= MAX_ROUNDS, f"--rounds={args.rounds} must be in [1, {MAX_ROUNDS}]")
    require(1 <= args.resamples <= 100_000, f"--resamples={args.resamples} must be in [1, 100000]")
    check_seed(args.seed)
    require(
        len(args.players) >= 2, f"a tournament needs at least 2 players, got {len(args.players)}"
    )
    check_names(args.players)
    loaded = [load_player(p) for p in args.players]
    arena = build_arena(args, loaded)
    check_fit(arena.build(), arena, loaded)
    with executor_from(args) as executor:
        out = open_out(args, TOURNAMENT_OUTPUTS)
        n = len(args.players)
        pairs = n * (n - 1) // 2
        sides = " v ".join("+".join(s) for s in arena.sides)
        print(
            f"{n} players, {pairs} pairs x {args.rounds} rounds ({sides}), {executor.description}"
        )
        with task_bar(args, pairs, "matches", "match") as bar:

            def done(result: Any) -> None:
                bar.set_postfix_str(result.key if result.ok else f"{result.key}: FAILED")
                bar.update(1)

            outcome = run_tournament(
                args.players,
                arena,
                args.rounds,
                args.seed,
                out,
                executor,
                resamples=args.resamples,
                on_done=done,
                should_stop=args.stop,
                command=command_line(args),
                resume=args.resume,
            )
    print(summary_text(outcome))
    print(f"results: {out / 'results.json'}")
    print(f"report:  {out / 'report.md'}")
    print(f"plot:    {out / 'cross_play.png'}")
    return report_failures(outcome.failures, pairs, "match", "matches", out)
