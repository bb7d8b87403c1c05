"""Command line: ``mfmarl train …``, ``mfmarl resume``, ``mfmarl reproduce …``,
``mfmarl sweep …``, ``mfmarl battle``, ``mfmarl render`` and ``mfmarl tournament``.

Options are generated from the config dataclasses (:mod:`mfmarl.cli.options`). Bad input
ends with one line ``mfmarl: error: …`` and exit code 2; Ctrl-C stops after the current
episode and ends with exit code 130, keeping the files written.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from mfmarl import __version__
from mfmarl.cli import evaluate as evaluate_commands
from mfmarl.cli import play as play_commands
from mfmarl.cli import reproduce as reproduce_commands
from mfmarl.cli import train as train_commands
from mfmarl.cli.options import PROG, Parser, StopRequest, graceful_sigint
from mfmarl.core.errors import ConfigError
from mfmarl.training.runtime import tune_cpu_runtime

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``mfmarl`` argument parser."""
    parser = Parser(
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
        "train",
        help="train on an environment",
        description="Train learners on an environment: a paper experiment's preset "
        "(gaussian-squeeze, battle), any MAgent2 environment or any PettingZoo ParallelEnv.",
    )
    train_envs = train.add_subparsers(dest="env", metavar="ENV", required=True)
    train_commands.add_parsers(train_envs)
    train_commands.add_resume_parser(commands)
    reproduce = commands.add_parser(
        "reproduce",
        help="reproduce an experiment of the paper",
        description="Reproduce an experiment of the paper: many runs, then a report.",
    )
    reproduce_envs = reproduce.add_subparsers(dest="env", metavar="EXPERIMENT", required=True)
    reproduce_commands.add_parsers(reproduce_envs, commands)
    play_commands.add_parsers(commands)
    evaluate_commands.add_parsers(commands)
    return parser


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
    except BrokenPipeError:  # the reader of our output went away (`| head`): end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a path that cannot be written, a full disk, ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; files written so far are kept", file=sys.stderr)
        return 130
