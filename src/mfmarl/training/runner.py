"""One training run into one directory: config, metrics, TensorBoard, checkpoint, summary.

Layout of a run directory::

    config.json        env, algorithm and training configs, package version, command
    metrics.csv        one row per episode, namespaced columns (charts/, env/, losses/, time/)
    tb/                TensorBoard scalars of the same metrics
    checkpoint/        model.safetensors + checkpoint.json (end of run, and periodic)
    summary.json       the run's :class:`RunSummary`

Environments are found by the type of their config (:func:`register_env`), so another
environment plugs in without changing this module's callers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from mfmarl import __version__
from mfmarl.algorithms import AlgorithmConfig, Learner, make_learner
from mfmarl.core.errors import ConfigError
from mfmarl.envs import GaussianSqueeze, GaussianSqueezeConfig
from mfmarl.envs.base import AgentArrayEnv
from mfmarl.training.checkpoint import save_checkpoint
from mfmarl.training.logger import MetricsLogger
from mfmarl.training.loop import TrainConfig, train
from mfmarl.training.rundir import write_json_atomic

log = logging.getLogger(__name__)

TAIL_FRACTION = 0.1
"""Final metrics are means over this fraction of the last episodes."""
SUMMARY_PREFIXES = ("env/", "charts/episodic_return")


@dataclass(frozen=True)
class EnvSpec:
    """How to build an environment from its config."""

    name: str
    factory: Callable[[Any], AgentArrayEnv]


_ENVS: dict[type, EnvSpec] = {
    GaussianSqueezeConfig: EnvSpec("gaussian-squeeze", GaussianSqueeze),
}


def register_env(config_type: type, name: str, factory: Callable[[Any], AgentArrayEnv]) -> None:
    """Make :func:`train_run` accept configs of ``config_type``, built by ``factory``."""
    _ENVS[config_type] = EnvSpec(name, factory)


def env_spec(env_config: Any) -> EnvSpec:
    """The registered spec for this config's type; :class:`ConfigError` if there is none."""
    spec = _ENVS.get(type(env_config))
    if spec is None:
        raise ConfigError(f"no environment is registered for {type(env_config).__name__}")
    return spec


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-ready dict."""
    return dataclasses.asdict(config)


@dataclass(frozen=True)
class RunSummary:
    """What a finished run reports. ``final_metrics`` are means over the last 10% episodes."""

    run_dir: str
    env: str
    algo: str
    n_agents: int
    seed: int
    episodes: int
    env_steps: int
    seconds: float
    final_metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    """True when ``should_stop`` ended the run before its last episode."""

    @property
    def final_G(self) -> float:
        """Mean of ``env/G`` over the last 10% of episodes (nan if the env has no G)."""
        return self.final_metrics.get("env/G", math.nan)

    @property
    def final_x(self) -> float:
        """Mean of ``env/x`` over the last 10% of episodes (nan if the env has no x)."""
        return self.final_metrics.get("env/x", math.nan)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tail_length(episodes: int) -> int:
    """Episodes averaged for the final metrics: ``max(1, ceil(0.1·episodes))``."""
    return max(1, math.ceil(TAIL_FRACTION * episodes))


def _summary_values(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items()
        if k.startswith(SUMMARY_PREFIXES) and isinstance(v, (int, float))
    }


def _tail_means(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for row in rows for k in row})
    means = {}
    for key in keys:
        values = np.array([row.get(key, math.nan) for row in rows], dtype=np.float64)
        finite = values[np.isfinite(values)]
        means[key] = float(finite.mean()) if finite.size else math.nan
    return means


def _checkpoint(out: Path, learner: Learner, env_config: Any, episodes_done: int) -> None:
    spec = env_spec(env_config)
    meta = {
        "env": {"name": spec.name, "config": config_dict(env_config)},
        "episode": episodes_done,
    }
    save_checkpoint(out / "checkpoint", learner, meta)


def train_run(
    env_config: Any,
    algo_config: AlgorithmConfig,
    train_config: TrainConfig,
    out_dir: str | Path,
    progress: bool = False,
    *,
    checkpoint_every: int = 0,
    command: Sequence[str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Train one learner on one environment, writing everything into ``out_dir``.

    ``env_config`` is the config of a registered environment (:class:`GaussianSqueezeConfig`
    by default). ``checkpoint_every > 0`` also checkpoints every that many episodes; the
    final checkpoint is always written. ``progress`` shows a tqdm bar on stderr.
    ``should_stop`` is asked after every episode; once it returns True the run ends there,
    with its checkpoint and summary written (``interrupted=True``). Stopping this way, rather
    than by an exception raised at an arbitrary point, leaves every file and writer intact.
    """
    if checkpoint_every < 0:
        raise ConfigError(f"checkpoint_every={checkpoint_every} must be >= 0")
    spec = env_spec(env_config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = spec.factory(env_config)
    learner = make_learner(
        algo_config,
        env.obs_dim,
        env.n_actions,
        env.n_agents,
        train_config.device,
        train_config.seed,
    )
    write_json_atomic(
        out / "config.json",
        {
            "env": {"name": spec.name, "config": config_dict(env_config)},
            "algorithm": config_dict(algo_config),
            "train": config_dict(train_config),
            "checkpoint_every": checkpoint_every,
            "mfmarl_version": __version__,
            "command": list(command) if command is not None else None,
        },
    )
    log.info("training %s on %s into %s", algo_config.algo, spec.name, out)
    tail: deque[dict[str, float]] = deque(maxlen=tail_length(train_config.episodes))
    done = 0
    interrupted = False
    started = time.perf_counter()
    # No tqdm object at all without a bar: tqdm creates a multiprocessing lock per process,
    # which a terminated worker process would leak.
    bar = (
        tqdm(
            total=train_config.episodes,
            desc=f"{algo_config.algo} {spec.name}",
            unit="ep",
            dynamic_ncols=True,
        )
        if progress
        else None
    )
    logger = MetricsLogger(out)
    try:
        for metrics in train(env, learner, train_config):
            logger.log(metrics)
            tail.append(_summary_values(metrics))
            done += 1
            if bar is not None:
                bar.update(1)
                if done % 20 == 0:
                    ret = metrics.get("charts/episodic_return", math.nan)
                    bar.set_postfix(ret=f"{ret:.4g}")
            if checkpoint_every and done % checkpoint_every == 0 and done < train_config.episodes:
                _checkpoint(out, learner, env_config, done)
            if should_stop is not None and should_stop():
                interrupted = done < train_config.episodes
                break
    finally:
        if bar is not None:
            bar.close()
        logger.close()
    seconds = time.perf_counter() - started
    _checkpoint(out, learner, env_config, done)
    summary = RunSummary(
        run_dir=str(out),
        env=spec.name,
        algo=algo_config.algo,
        n_agents=env.n_agents,
        seed=train_config.seed,
        episodes=done,
        env_steps=int(learner.env_steps),
        seconds=seconds,
        final_metrics=_tail_means(list(tail)),
        interrupted=interrupted,
    )
    write_json_atomic(out / "summary.json", summary.to_dict())
    return summary
