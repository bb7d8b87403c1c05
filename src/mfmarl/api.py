"""The Python entry point: ``mfmarl.train(env_fn, ...)`` trains MF-Q, MF-AC, IL or AC on your
own environment and returns the run.

``env_fn`` is a module-level function (or its ``"module:function"`` name) that returns a
PettingZoo ``ParallelEnv`` with ``Discrete`` actions, a MAgent2 environment, or a
:class:`~mfmarl.envs.base.MultiGroupEnv`. It must be importable by name, because the run
records it in ``config.json`` to build the same environment again (``mfmarl resume``,
``battle``, ``render``, ``tournament``). Example::

    import mfmarl

    run = mfmarl.train("mypkg.envs:make_env", algo="mfq", episodes=100, out="runs/mine")
    print(run.summary.final_metrics)
    policy = run.policy("red")  # acts like the trained learner of group red
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mfmarl.algorithms import AlgorithmConfig, Policy
from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.source import EnvSource, load_factory
from mfmarl.evaluation.players import Player, load_player
from mfmarl.training.defaults import default_algorithm, episode_length_hint
from mfmarl.training.loop import TrainConfig
from mfmarl.training.roles import parse_role
from mfmarl.training.run import RunSummary, build_session, train_run
from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir
from mfmarl.training.runtime import tune_cpu_runtime
from mfmarl.training.spec import RunSpec


@dataclass(frozen=True)
class Run:
    """A finished training run: its directory, what it recorded and its summary."""

    path: Path
    spec: RunSpec
    summary: RunSummary

    def player(self) -> Player:
        """The run as a player for matches (its learners, by the group each played)."""
        return load_player(str(self.path))

    def policy(self, group: str, seed: int = 0) -> Policy:
        """The trained policy of ``group`` as players act with it (policy average, no ε)."""
        learner = self.player().learners.get(group)
        require(learner is not None, f"the run has no policy for group {group!r}")
        assert learner is not None
        return learner.evaluation_policy(seed)


def factory_name(env_fn: str | Callable[..., Any]) -> str:
    """``"module:function"`` of an importable function (or the string itself, checked)."""
    if isinstance(env_fn, str):
        load_factory(env_fn)
        return env_fn
    module = getattr(env_fn, "__module__", None)
    qualname = getattr(env_fn, "__qualname__", "")
    require(
        module is not None and module != "__main__" and "<" not in qualname,
        f"{env_fn!r}: the environment factory must be a module-level function of an "
        "importable module (the run records its name to build the environment again)",
    )
    name = f"{module}:{qualname}"
    require(load_factory(name) is env_fn, f"{name} does not name {env_fn!r}")
    return name


def train(
    env_fn: str | Callable[..., Any],
    *,
    out: str | Path,
    algo: str = "mfq",
    env_kwargs: Mapping[str, Any] | None = None,
    groups: Mapping[str, str] | None = None,
    roles: Mapping[str, str] | None = None,
    mean_field: Mapping[str, str] | None = None,
    algorithm: Mapping[str, Any] | None = None,
    episodes: int = 200,
    seed: int = 0,
    checkpoint_every: int = 0,
    force: bool = False,
    progress: bool = False,
    eval_every: int = 0,
    eval_rounds: int = 20,
    eval_opponents: Sequence[str] = ("random",),
    eval_gif: bool = False,
    loggers: Sequence[str] = ("tensorboard",),
    **train_settings: Any,
) -> Run:
    """Train on the environment ``env_fn(**env_kwargs)`` returns; write the run to ``out``.

    - ``groups``: ``{agent: group}`` for a PettingZoo env (default: by agent-name prefix,
      ``red_3`` -> ``red``);
    - ``roles``: ``{group: role}`` (``mfq``, ``pool:red``, ``random``, ...; default: every
      group learns with ``algo``), see :mod:`mfmarl.training.roles`;
    - ``mean_field``: ``{group: rule}`` (``own``, ``own@6``, ``own+blue``; default ``own``),
      see :mod:`mfmarl.training.mean_field`;
    - ``algorithm``: :class:`AlgorithmConfig` fields on top of the defaults (those of
      ``mfmarl train pettingzoo``);
    - ``eval_every``, ``eval_rounds``, ``eval_opponents``: evaluation during training (games
      with two sides): every ``eval_every`` episodes, rounds against each opponent, logged as
      ``eval/<opponent>/win_rate`` with its interval; ``eval_gif``: also one recorded round
      as ``eval/episode_<E>.gif`` (and TensorBoard's images tab);
    - ``loggers``: metric backends besides metrics.csv (``tensorboard``, ``wandb``,
      ``mlflow``; :mod:`mfmarl.training.backends`);
    - ``train_settings``: :class:`TrainConfig` fields (``batch_size``, ``buffer_size``, ...).

    Raises :class:`~mfmarl.core.errors.ConfigError` for bad input, before anything is written.
    """
    tune_cpu_runtime()
    adapter = {"groups": dict(groups)} if groups else {}
    source = EnvSource(factory_name(env_fn), dict(env_kwargs or {}), adapter)
    env = source.build(trust=True)
    names = [g.name for g in env.groups]
    chosen = {name: algo for name in names}
    chosen.update(dict(roles or {}))
    try:
        train_config = TrainConfig(
            **{"episodes": episodes, "seed": seed, "learning_starts": 1000, **train_settings}
        )
    except TypeError as exc:
        raise ConfigError(f"invalid training setting: {exc}") from exc
    steps = episode_length_hint(env)
    view = any(g.view_shape is not None for g in env.groups)
    algorithms: dict[str, AlgorithmConfig] = {}
    for group, role in chosen.items():
        parsed = parse_role(role)
        if parsed.learns:
            algorithms[group] = default_algorithm(
                parsed.arg, episodes, steps, view, dict(algorithm or {})
            )
    spec = RunSpec(
        env=source,
        roles=chosen,
        algorithms=algorithms,
        train=train_config,
        mean_field=dict(mean_field or {}),
        checkpoint_every=checkpoint_every,
        name=source.factory,
        eval_every=eval_every,
        eval_rounds=eval_rounds,
        eval_opponents=tuple(eval_opponents),
        eval_gif=eval_gif,
        loggers=tuple(loggers),
    )
    from mfmarl.evaluation.during_training import check_evaluation, evaluate_during_training
    from mfmarl.evaluation.players import frozen_policy

    session = build_session(spec, trust_env=True, load_frozen=frozen_policy)
    check_evaluation(spec)
    path = prepare_run_dir(out, force, RUN_OUTPUTS)
    summary = train_run(spec, path, progress, evaluator=evaluate_during_training, session=session)
    return Run(path, spec, summary)


__all__ = ["Run", "train"]
