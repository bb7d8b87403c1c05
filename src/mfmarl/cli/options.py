"""Shared pieces of the command line: options generated from the config dataclasses (one
``--field-name`` per field, its docstring as help), the one-line error parser, Ctrl-C
handling, executors, progress bars.

``Literal`` fields become choices, ``bool`` fields ``--flag/--no-flag`` and
``tuple[int, ...]`` fields take several values. Bad input ends with one line
``mfmarl: error: …`` and exit code 2.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import inspect
import os
import signal
import sys
import textwrap
import threading
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn

from mfmarl.core.errors import ConfigError

PROG = "mfmarl"

PRESET_NOTE = "default: from the preset; --show-config prints it"


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
    if hint is float:
        return {"type": finite_float}
    if hint in (int, str):
        return {"type": hint}
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float, str):
            return {"type": args[0], "nargs": "*"}
    return None


def finite_float(text: str) -> float:
    """argparse type: a finite number (``inf`` and ``nan`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


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
        note = default_note(f) if default_note else f"default: {field_default(f)}"
        parser.add_argument(
            flag_name(f.name),
            dest=f"{prefix}__{f.name}",
            default=None,
            help=_help(docs.get(f.name, ""), note),
            **kwargs,
        )
        added.append(f.name)
    return added


def field_default(f: dataclasses.Field[Any]) -> str:
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


def replace_fields(config: Any, overrides: dict[str, Any]) -> Any:
    """``dataclasses.replace`` whose bad values (type errors too) are one-line errors."""
    if not overrides:
        return config
    try:
        return dataclasses.replace(config, **overrides)
    except TypeError as exc:
        raise ConfigError(f"invalid {type(config).__name__} setting: {exc}") from exc


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``mfmarl: error: <message>`` and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def preset_note(f: dataclasses.Field[Any]) -> str:
    return PRESET_NOTE


def add_show_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--show-config",
        action="store_true",
        help="print the resolved configuration (the preset with your overrides) as JSON and "
        "exit without training",
    )


def show_config(**configs: Any) -> int:
    """Print the dataclass ``configs`` as one JSON object (exit code 0)."""
    import json

    print(json.dumps({k: dataclasses.asdict(v) for k, v in configs.items()}, indent=2))
    return 0


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show a progress bar on stderr [default: on]",
    )


def add_common_run_options(
    parser: argparse.ArgumentParser,
    scales: Sequence[str] | None,
    out_required: bool = True,
    default_scale: str = "quick",
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
    if scales is None:
        return
    parser.add_argument(
        "--scale",
        choices=list(scales),
        default=default_scale,
        help=f"preset budget, one of {', '.join(scales)}: quick is the short one, paper the "
        "paper's (the command's description gives each one's size and expected time) "
        f"[default: {default_scale}]",
    )


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


def add_executor_options(parser: argparse.ArgumentParser) -> None:
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


def add_resume_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the killed or stopped run in --out (same options): finished tasks are "
        "kept, unfinished training runs continue from their checkpoints",
    )


def open_out(args: argparse.Namespace, outputs: Sequence[str]) -> Path:
    """The command's ``--out``: reopened to continue it (``--resume``), or prepared afresh
    (refused when not empty, unless ``--force``)."""
    from mfmarl.training.rundir import prepare_run_dir, reopen_run_dir

    if getattr(args, "resume", False):
        if args.force:
            raise ConfigError("--resume and --force contradict each other: choose one")
        return reopen_run_dir(args.out)
    return prepare_run_dir(args.out, args.force, outputs)


def add_out_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created if missing)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reuse a non-empty --out, deleting mfmarl's earlier outputs there",
    )
    add_progress_option(parser)


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


def command_line(args: argparse.Namespace) -> list[str]:
    return [PROG, *args.argv]


@contextlib.contextmanager
def executor_from(args: argparse.Namespace) -> Iterator[Any]:
    """The executor chosen by --workers / --ray / --ray-address, closed afterwards."""
    from mfmarl.parallel.executor import make_executor

    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers} must be >= 1")
    executor = make_executor(args.workers, args.ray, args.ray_address)
    try:
        yield executor
    finally:
        executor.close()


def task_bar(args: argparse.Namespace, total: int, desc: str, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=not args.progress)


def report_failures(failures: Sequence[Any], total: int, what: str, plural: str, out: Path) -> int:
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
