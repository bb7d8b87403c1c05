"""One training run into one directory: the only run writer.

Layout of a run directory::

    config.json        the RunSpec (environment source, roles, mean-field rules, every
                       learner's AlgorithmConfig, TrainConfig), package version, torch
                       threads (the count the run started with; resume uses it), command
    metrics.csv        one row per episode, namespaced columns (charts/, env/, losses/, ...)
    tb/                TensorBoard scalars of the same metrics
    checkpoint/        run.json (episode, the trainer's generator) and one directory per
                       learner (model.safetensors + checkpoint.json); periodic and final
    summary.json       the run's RunSummary

A run killed at any moment can be resumed (:func:`resume_run`): from its last checkpoint, or
from the start when it died before the first one; metric rows after the checkpoint are
dropped and logged again.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from mfmarl import __version__
from mfmarl.algorithms import Learner, Policy, make_learner
from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.networks.precision import auto_choice, pinned_auto
from mfmarl.training.checkpoint import load_into, load_run_checkpoint, save_run_checkpoint
from mfmarl.training.logger import MetricsLogger, read_metrics, truncate_metrics
from mfmarl.training.loop import seed_everything, train
from mfmarl.training.mean_field import MeanFieldRule, parse_mean_field
from mfmarl.training.roles import Role, check_roles, parse_role
from mfmarl.training.rundir import lock_run_dir, read_json, write_json_atomic
from mfmarl.training.spec import Evaluator, RunSpec

log = logging.getLogger(__name__)

TAIL_FRACTION = 0.1
"""Final metrics are means over this fraction of the last episodes."""
SUMMARY_PREFIXES = ("env/", "charts/episodic_return", "charts/episode_length")
CHECKPOINT_DIR = "checkpoint"
FrozenLoader = Callable[[str, str, int], Policy]
"""``(path, group, seed) -> policy`` of a ``frozen:PATH`` role playing ``group``."""
LEARNER_SEED_STRIDE = 1_000_003
"""Learner k (in group order) is seeded ``seed + k·stride``; the first uses the run's seed."""


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports. ``final_metrics`` are means over the last 10% episodes."""

    run_dir: str
    env: str
    roles: dict[str, str]
    n_agents: int
    """Agent slots over every group."""
    seed: int
    episodes: int
    env_steps: int
    seconds: float
    final_metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    """True when ``should_stop`` ended the run before its last episode."""
    resumed_from: int | None = None
    """The episode a resumed session started from (None: a fresh run)."""
    episodes_this_session: int = 0

    @property
    def algo(self) -> str:
        """The first learning group's algorithm."""
        learning = [r for r in self.roles.values() if parse_role(r).learns]
        return learning[0] if learning else ""

    @property
    def final_G(self) -> float:
        """Mean of ``env/G`` over the last 10% of episodes (nan if the env has no G)."""
        return self.final_metrics.get("env/G", math.nan)

    @property
    def final_x(self) -> float:
        """Mean of ``env/x`` over the last 10% of episodes (nan if the env has no x)."""
        return self.final_metrics.get("env/x", math.nan)

    @property
    def seconds_per_episode(self) -> float:
        return self.seconds / max(self.episodes_this_session, 1)

    @property
    def env_steps_per_second(self) -> float:
        """Environment steps per second of training (nan for a resumed run: its seconds
        cover the last session only)."""
        if self.resumed_from is not None or self.seconds <= 0:
            return math.nan
        return self.env_steps / self.seconds

    def to_dict(self) -> dict[str, Any]:
        """The summary's fields, plus ``algo``, ``seconds_per_episode`` and
        ``env_steps_per_second``."""
        data = dataclasses.asdict(self)
        data["algo"] = self.algo
        data["seconds_per_episode"] = self.seconds_per_episode
        data["env_steps_per_second"] = self.env_steps_per_second
        return data


def tail_length(episodes: int) -> int:
    """Episodes averaged for the final metrics: ``max(1, ceil(0.1·episodes))``."""
    return max(1, math.ceil(TAIL_FRACTION * episodes))


def _summary_values(metrics: Mapping[str, Any], groups: Sequence[str]) -> dict[str, float]:
    prefixes = (*SUMMARY_PREFIXES, *(f"{g}/episodic_return" for g in groups))
    return {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith(prefixes) and isinstance(v, (int, float))
    }


def _logged_tail(path: Path, groups: Sequence[str], length: int) -> list[dict[str, float]]:
    """The summary values of the last ``length`` episodes logged in ``metrics.csv``."""
    if not path.is_file():
        return []
    columns = read_metrics(path)
    rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    return [
        {k: v for k, v in _summary_values(row, groups).items() if not math.isnan(v)}
        for row in rows[-length:]
    ]


def _tail_means(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for row in rows for k in row})
    means = {}
    for key in keys:
        values = np.array([row.get(key, math.nan) for row in rows], dtype=np.float64)
        finite = values[np.isfinite(values)]
        means[key] = float(finite.mean()) if finite.size else math.nan
    return means


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; an unavailable GPU is a
    ConfigError."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    require(
        name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()),
        f"device={name!r} must be auto, cpu, cuda or cuda:N",
    )
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: torch sees no CUDA GPU (use --device cpu or auto)")
    return name


@dataclass
class Session:
    """Everything built from a RunSpec: the environment, roles, ā rules and learners."""

    spec: RunSpec
    env: MultiGroupEnv
    roles: dict[str, Role]
    rules: list[MeanFieldRule]
    learners: dict[str, Learner]
    frozen: dict[str, Policy]
    device: str


def build_session(
    spec: RunSpec,
    trust_env: bool = False,
    load_frozen: FrozenLoader | None = None,
) -> Session:
    """Build the environment and every learner of ``spec`` (validating roles and rules
    against the environment's groups). ``load_frozen(path, group, seed)`` loads the policies
    of ``frozen:`` roles."""
    device = resolve_device(spec.train.device)
    env = spec.env.build(trust=trust_env)
    names = [g.name for g in env.groups]
    roles = spec.parsed_roles()
    check_roles(roles, names)
    unknown = sorted(set(spec.mean_field) - set(names))
    require(not unknown, f"mean field for unknown group(s) {', '.join(unknown)}")
    fills = {
        name: spec.algorithms[_owner(roles, name)].initial_mean_action
        if _owner(roles, name) in spec.algorithms
        else "zeros"
        for name in names
    }
    rules = [
        MeanFieldRule(
            env.groups, i, parse_mean_field(spec.mean_field.get(name, "own")), fills[name]
        )
        for i, name in enumerate(names)
    ]
    for i, name in enumerate(names):
        leader = roles[name].follows
        if leader is not None:
            j = names.index(leader)
            require(
                rules[i].width == rules[j].width,
                f"group {name} plays with {leader}'s learner but its ā has another width",
            )
    learners: dict[str, Learner] = {}
    for k, name in enumerate(n for n in names if roles[n].learns):
        spec_g = env.groups[names.index(name)]
        learners[name] = make_learner(
            spec.algorithms[name],
            spec_g.obs_dim,
            spec_g.n_actions,
            spec_g.n_slots,
            device,
            spec.train.seed + k * LEARNER_SEED_STRIDE,
            view_shape=spec_g.view_shape,
            mean_action_dim=rules[names.index(name)].width,
        )
    frozen: dict[str, Policy] = {}
    for i, name in enumerate(names):
        if roles[name].kind == "frozen":
            require(load_frozen is not None, f"group {name}: no way to load {roles[name]}")
            assert load_frozen is not None
            frozen[name] = load_frozen(roles[name].arg, name, spec.train.seed + i)
    return Session(spec, env, roles, rules, learners, frozen, device)


def _owner(roles: Mapping[str, Role], name: str) -> str:
    role = roles[name]
    return name if role.learns else (role.follows or "")


def _checkpoint(out: Path, session: Session, episode: int, rng: np.random.Generator) -> None:
    meta = {
        "env": session.spec.env.to_dict(),
        "name": session.spec.name,
        "roles": dict(session.spec.roles),
        "mean_field": {str(r.own_spec.name): str(r) for r in session.rules},
        "train": dataclasses.asdict(session.spec.train),
        "episode": episode,
        "train_rng": rng.bit_generator.state,
    }
    save_run_checkpoint(out / CHECKPOINT_DIR, session.learners, meta)


def train_run(
    spec: RunSpec,
    out_dir: str | Path,
    progress: bool = False,
    *,
    command: Sequence[str] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    trust_env: bool = False,
    load_frozen: FrozenLoader | None = None,
    evaluator: Evaluator | None = None,
    session: Session | None = None,
) -> RunSummary:
    """Train ``spec`` into ``out_dir`` (see the module docstring) and return its summary.

    ``resume``: continue the run in ``out_dir`` from its checkpoint (networks, optimizer
    state, counters, generators), or from the start when there is none. ``should_stop`` is
    asked after every episode; once it returns True the run ends there with its checkpoint
    and summary written (``interrupted=True``). ``progress`` shows a tqdm bar on stderr.
    ``session``: the :func:`build_session` of ``spec`` when the caller built it already (to
    check the spec before writing anything), so that it is not built twice.
    """
    require(
        not spec.eval_every or evaluator is not None,
        "evaluation during training (eval_every) needs an evaluator: train through the "
        "command line or mfmarl.train",
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if session is None:
        session = build_session(spec, trust_env, load_frozen)
    require(session.spec == spec, "train_run: the session was built for another spec")
    names = [g.name for g in session.env.groups]
    rng = seed_everything(spec.train.seed)
    start = 0
    checkpoint_dir = out / CHECKPOINT_DIR
    has_checkpoint = any(
        (checkpoint_dir.with_name(CHECKPOINT_DIR + s) / "run.json").is_file() for s in ("", ".old")
    )
    if resume:
        lock_run_dir(out)  # a second writer of this run is refused
    if resume and has_checkpoint:
        start, rng = _restore(checkpoint_dir, session)
        finished = _finished_summary(out, spec.train.episodes)
        if start >= spec.train.episodes and finished is not None:
            return finished  # nothing left to do: keep the run's own summary
    if resume and (out / "config.json").is_file():
        truncate_metrics(out / "metrics.csv", start)
    else:  # a fresh run, or one killed before it wrote anything
        record = {
            **spec.to_dict(),
            "groups": [dataclasses.asdict(g) for g in session.env.groups],
            "mfmarl_version": __version__,
            "torch_threads": torch.get_num_threads(),
            "auto_precision": _auto_precision_choice(spec, session),
            "command": list(command) if command is not None else None,
        }
        write_json_atomic(out / "config.json", record)
    episodes = spec.train.episodes
    log.info("training %s on %s into %s", dict(spec.roles), spec.name or spec.env.factory, out)
    tail: deque[dict[str, float]] = deque(maxlen=tail_length(episodes))
    if resume and start > 0:  # the episodes before the checkpoint count towards the tail
        tail.extend(_logged_tail(out / "metrics.csv", names, tail_length(episodes)))
    done = start
    interrupted = False
    started = time.perf_counter()
    # No tqdm object at all without a bar: tqdm creates a multiprocessing lock per process,
    # which a terminated worker process would leak.
    bar = (
        tqdm(
            total=episodes, initial=start, desc=spec.name or "train", unit="ep", dynamic_ncols=True
        )
        if progress
        else None
    )
    logger = MetricsLogger(out, append=resume, loggers=spec.loggers, config=spec.to_dict())
    try:
        for metrics in train(
            session.env,
            session.roles,
            session.learners,
            session.rules,
            dataclasses.replace(spec.train, device=session.device),
            frozen=session.frozen,
            start_episode=start,
            rng=rng,
        ):
            done += 1
            frames = None
            if evaluator is not None and spec.eval_every and done % spec.eval_every == 0:
                evaluation = evaluator(spec, session.learners, done)
                metrics, frames = {**metrics, **evaluation.metrics}, evaluation.frames
            logger.log(metrics)
            if frames is not None:
                logger.log_animation("eval/round", f"eval/episode_{done}.gif", frames)
            tail.append(_summary_values(metrics, names))
            if bar is not None:
                bar.update(1)
                if done % 10 == 0:
                    ret = metrics.get("charts/episodic_return", math.nan)
                    bar.set_postfix(ret=f"{ret:.4g}")
            if spec.checkpoint_every and done % spec.checkpoint_every == 0 and done < episodes:
                _checkpoint(out, session, done, rng)
            if should_stop is not None and should_stop():
                interrupted = done < episodes
                break
    finally:
        if bar is not None:
            bar.close()
        logger.close()
    seconds = time.perf_counter() - started
    _checkpoint(out, session, done, rng)
    summary = RunSummary(
        run_dir=str(out),
        env=spec.name or spec.env.factory,
        roles=dict(spec.roles),
        n_agents=sum(g.n_slots for g in session.env.groups),
        seed=spec.train.seed,
        episodes=done,
        env_steps=max((int(lr.env_steps) for lr in session.learners.values()), default=0),
        seconds=seconds,
        final_metrics=_tail_means(list(tail)),
        interrupted=interrupted,
        resumed_from=start if resume else None,
        episodes_this_session=done - start,
    )
    write_json_atomic(out / "summary.json", summary.to_dict())
    return summary


def _finished_summary(out: Path, episodes: int) -> RunSummary | None:
    """The ``summary.json`` of a run in ``out`` that completed all ``episodes``, or None."""
    path = out / "summary.json"
    try:
        data = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("interrupted") or data.get("episodes") != episodes:
        return None
    names = {f.name for f in dataclasses.fields(RunSummary)}
    try:
        return RunSummary(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None


def _restore(path: Path, session: Session) -> tuple[int, np.random.Generator]:
    """Load the run's checkpoint into the session's learners; return the next episode and
    the trainer's generator as saved."""
    ckpt = load_run_checkpoint(path)
    missing = sorted(set(session.learners) - set(ckpt.learners))
    require(not missing, f"checkpoint {ckpt.path} has no learner for {', '.join(missing)}")
    for group, learner in session.learners.items():
        load_into(learner, ckpt.learners[group])
    try:
        start = int(ckpt.metadata["episode"])
        rng = np.random.default_rng()
        rng.bit_generator.state = ckpt.metadata["train_rng"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"checkpoint {ckpt.path}: no resumable trainer state ({exc})") from exc
    episodes = session.spec.train.episodes
    require(
        0 <= start <= episodes,
        f"checkpoint {ckpt.path} is at episode {start}, outside the run's {episodes}",
    )
    return start, rng


def auto_precision(spec: RunSpec, session: Session) -> tuple[str, str] | None:
    """``(choice, why)`` of ``precision="auto"`` on the session's device
    (:func:`~mfmarl.networks.precision.auto_choice`); None when no learner asks for auto or
    none has grid-view networks, where precision changes nothing."""
    uses_auto = any(
        spec.algorithms[name].precision == "auto" and learner.view_shape is not None
        for name, learner in session.learners.items()
    )
    return auto_choice(session.device) if uses_auto else None


def _auto_precision_choice(spec: RunSpec, session: Session) -> str | None:
    chosen = auto_precision(spec, session)
    return chosen[0] if chosen else None


@dataclass(frozen=True)
class RunRecord:
    """What a run directory's ``config.json`` records: the spec and how the run started."""

    spec: RunSpec
    torch_threads: int | None
    """Torch CPU threads the run started with (None where the record has no valid count)."""
    auto_precision: str | None
    """What ``precision="auto"`` resolved to when the run started (None: no learner used
    auto on grid views)."""


def read_run_record(out: str | Path) -> RunRecord:
    """The :class:`RunRecord` in a run directory's ``config.json``, read once."""
    where = Path(out)
    data = read_json(where / "config.json")
    try:
        spec = RunSpec.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{where}/config.json: {exc}") from exc
    threads = data.get("torch_threads")
    precision = data.get("auto_precision")
    return RunRecord(
        spec,
        threads
        if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1
        else None,
        precision if precision in ("fp32", "bf16") else None,
    )


def read_run_spec(out: str | Path) -> RunSpec:
    """The RunSpec recorded in a run directory's ``config.json``."""
    return read_run_record(out).spec


def resume_run(
    out_dir: str | Path,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
    trust_env: bool = False,
    load_frozen: FrozenLoader | None = None,
    evaluator: Evaluator | None = None,
    record: RunRecord | None = None,
) -> RunSummary:
    """Continue the run in ``out_dir`` with the config recorded there (``precision="auto"``
    in the arithmetic the run started with, whatever this machine's probe says); ``record``
    is that directory's :func:`read_run_record` where the caller has read it already."""
    record = record if record is not None else read_run_record(out_dir)
    spec = record.spec
    with pinned_auto(record.auto_precision, resolve_device(spec.train.device)):
        return train_run(
            spec,
            out_dir,
            progress,
            should_stop=should_stop,
            resume=True,
            trust_env=trust_env,
            load_frozen=load_frozen,
            evaluator=evaluator,
        )
