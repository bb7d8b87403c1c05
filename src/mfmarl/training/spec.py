"""What defines a training run: the :class:`RunSpec` that ``config.json`` records, and the
type of evaluation during training (:class:`Evaluation`, :data:`Evaluator`) that
:func:`mfmarl.training.run.train_run` accepts."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mfmarl.algorithms import AlgorithmConfig, Learner
from mfmarl.core.errors import MAX_STEPS, ConfigError, require
from mfmarl.envs.source import EnvSource
from mfmarl.training.backends import check_loggers
from mfmarl.training.checkpoint import algorithm_config_dict, algorithm_config_from_dict
from mfmarl.training.loop import TrainConfig
from mfmarl.training.mean_field import parse_mean_field
from mfmarl.training.roles import Role, parse_role


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a training run (what ``config.json`` records)."""

    env: EnvSource
    """Where the environment comes from."""
    roles: Mapping[str, str]
    """Who plays each group (``mfmarl.training.roles``), by group name."""
    algorithms: Mapping[str, AlgorithmConfig]
    """The settings of each learner, by the name of the group that owns it."""
    train: TrainConfig
    """Budget, replay and self-play schedule."""
    mean_field: Mapping[str, str] = field(default_factory=dict)
    """ā rule per group (``mfmarl.training.mean_field``); a group not named gets ``own``."""
    checkpoint_every: int = 0
    """Also checkpoint every this many episodes (0: only at the end)."""
    name: str = ""
    """The environment's name for records and reports (``battle``, ``gaussian-squeeze``)."""
    eval_every: int = 0
    """Evaluate every this many episodes (0: never): the trained side plays ``eval_rounds``
    rounds against each of ``eval_opponents``, logged as ``eval/<opponent>/win_rate`` with
    its 95% Wilson interval (games with two sides)."""
    eval_rounds: int = 20
    eval_opponents: tuple[str, ...] = ("random",)
    """Players the trained side meets (``random``, ``attack-nearest``, a run, an export)."""
    eval_gif: bool = False
    """At each evaluation also record one round against the first opponent as an animated
    GIF (``OUT/eval/episode_<E>.gif``, and TensorBoard's images tab); the env must draw
    itself."""
    loggers: tuple[str, ...] = ("tensorboard",)
    """Metric backends besides ``metrics.csv``: tensorboard, wandb, mlflow
    (:mod:`mfmarl.training.backends`)."""

    def __post_init__(self) -> None:
        require(self.checkpoint_every >= 0, "checkpoint_every must be >= 0")
        require(0 <= self.eval_every <= MAX_STEPS, f"eval_every={self.eval_every} must be >= 0")
        require(1 <= self.eval_rounds <= 100_000, f"eval_rounds={self.eval_rounds} not in [1, 1e5]")
        require(
            not self.eval_every or len(self.eval_opponents) > 0,
            "evaluation during training needs at least one opponent",
        )
        check_loggers(self.loggers)
        parsed = {group: parse_role(role) for group, role in self.roles.items()}
        for group, role in parsed.items():
            if role.learns:
                require(group in self.algorithms, f"group {group} learns but has no settings")
                require(
                    self.algorithms[group].algo == role.arg,
                    f"group {group}: role {role.arg} but its settings are for "
                    f"{self.algorithms[group].algo}",
                )
        extra = sorted(set(self.algorithms) - {g for g, r in parsed.items() if r.learns})
        require(not extra, f"settings for group(s) that do not learn: {', '.join(extra)}")
        for rule in self.mean_field.values():
            parse_mean_field(rule)

    def parsed_roles(self) -> dict[str, Role]:
        return {group: parse_role(role) for group, role in self.roles.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "env": self.env.to_dict(),
            "roles": dict(self.roles),
            "mean_field": dict(self.mean_field),
            "algorithms": {g: algorithm_config_dict(c) for g, c in self.algorithms.items()},
            "train": dataclasses.asdict(self.train),
            "checkpoint_every": self.checkpoint_every,
            "evaluation": {
                "every": self.eval_every,
                "rounds": self.eval_rounds,
                "opponents": list(self.eval_opponents),
                "gif": self.eval_gif,
            },
            "loggers": list(self.loggers),
        }

    @staticmethod
    def from_dict(data: Any) -> RunSpec:
        try:
            return RunSpec(
                env=EnvSource.from_dict(data["env"]),
                roles={str(k): str(v) for k, v in dict(data["roles"]).items()},
                algorithms={
                    str(g): algorithm_config_from_dict(dict(c))
                    for g, c in dict(data["algorithms"]).items()
                },
                train=TrainConfig(**dict(data["train"])),
                mean_field={str(k): str(v) for k, v in dict(data.get("mean_field") or {}).items()},
                checkpoint_every=int(data.get("checkpoint_every", 0)),
                name=str(data.get("name", "")),
                **_evaluation_fields(data.get("evaluation")),
                loggers=tuple(str(x) for x in data.get("loggers", ("tensorboard",))),
            )
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"not a run's config ({exc})") from exc


def _evaluation_fields(data: Any) -> dict[str, Any]:
    if not data:
        return {}
    return {
        "eval_every": int(data["every"]),
        "eval_rounds": int(data["rounds"]),
        "eval_opponents": tuple(str(o) for o in data["opponents"]),
        "eval_gif": bool(data.get("gif", False)),
    }


class Evaluation(NamedTuple):
    """What one evaluation during training gives: metrics and, with ``eval_gif``, the
    frames ``(T, H, W, 3)`` uint8 of one recorded round."""

    metrics: dict[str, float]
    frames: np.ndarray | None = None


Evaluator = Callable[["RunSpec", Mapping[str, Learner], int], Evaluation]
"""``(spec, learners by group, episodes done) -> Evaluation``: evaluation during training,
supplied by the layers above (:mod:`mfmarl.evaluation.during_training`)."""
