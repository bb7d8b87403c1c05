"""Players for matches, tournaments and GIFs: who acts for a group of an environment.

A player is named by text, as on the command line:

- ``random``: uniform random actions;
- ``attack-nearest``, ``attack-weakest``: the environment's scripted players (MAgent2
  combat games);
- ``mfq-battle-quick``: a pretrained MF-Q Battle player shipped with mfmarl (quick scale,
  docs/battle.md);
- a training run's directory (its latest checkpoint), a learner's checkpoint directory, or
  an exported policy (``mfmarl export``: a directory with ``policy.safetensors``, or the
  file): the trained policy, acting through the same :class:`~mfmarl.algorithms.policy.Policy` as in
  training (one batched pass per group, sampling, chunking) with the policy average when the
  run kept one, no ε, and the ā rule it was trained with.

:meth:`Player.actor` binds a player to one group of a built environment for one round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mfmarl.algorithms import Learner, Policy
from mfmarl.core.errors import ConfigError, require
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.envs.source import EnvSource
from mfmarl.evaluation.export import export_file, load_export
from mfmarl.training.checkpoint import (
    META_FILE,
    RUN_FILE,
    learner_from_checkpoint,
    resolve_checkpoint_dir,
)
from mfmarl.training.loop import ScriptedActions, random_player, scripted
from mfmarl.training.mean_field import MeanFieldRule, parse_mean_field
from mfmarl.training.roles import parse_role
from mfmarl.training.rundir import read_json

BUILTIN_PLAYERS = ("random", "attack-nearest", "attack-weakest")
PRETRAINED_PLAYERS = {"mfq-battle-quick": "mfq-battle-quick.safetensors"}
"""Exported players shipped in ``mfmarl/evaluation/pretrained/``: name -> file."""


def pretrained_path(name: str) -> Path:
    """The packaged file of the pretrained player ``name``."""
    return Path(__file__).resolve().parent / "pretrained" / PRETRAINED_PLAYERS[name]


"""Players that need no checkpoint (the scripted ones only on the MAgent2 combat games)."""


@dataclass
class GroupActor:
    """One group's player in one round: a policy with its ā rule, or a scripted function
    with its own generator."""

    policy: Policy | None = None
    rule: MeanFieldRule | None = None
    script: ScriptedActions | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))


@dataclass
class Player:
    """A named player: a built-in, or trained learners by the group each played in training.

    ``learners[g]``: the learner that acted for group ``g`` in training (its own, or the one it
    shared or copied); ``rules[g]``: that group's ā rule text; ``env``: where it was trained.
    """

    name: str
    builtin: str | None = None
    learners: dict[str, Learner] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    env: EnvSource | None = None

    @property
    def trained(self) -> bool:
        return self.builtin is None

    def groups(self) -> list[str]:
        """The groups this player can play (any group for a built-in)."""
        return list(self.learners)

    def actor(self, env: MultiGroupEnv, group: int, seed: int) -> GroupActor:
        """This player acting for ``group`` of ``env`` in a round seeded ``seed``."""
        rng = np.random.default_rng(seed)
        spec = env.groups[group]
        if self.builtin == "random":
            return GroupActor(script=random_player(spec.n_slots, spec.n_actions), rng=rng)
        if self.builtin is not None:
            return GroupActor(script=scripted(env, self.builtin, group), rng=rng)
        learner = self.learners.get(spec.name)
        require(
            learner is not None,
            f"player {self.name!r} was not trained for group {spec.name!r} (it plays "
            f"{', '.join(self.learners) or 'nothing'})",
        )
        assert learner is not None
        require(
            (learner.obs_dim, learner.n_actions) == (spec.obs_dim, spec.n_actions),
            f"player {self.name!r}: group {spec.name} has observations of {spec.obs_dim} and "
            f"{spec.n_actions} actions, the player was trained on {learner.obs_dim} and "
            f"{learner.n_actions}",
        )
        fill = learner.config.initial_mean_action
        rule = MeanFieldRule(
            env.groups, group, parse_mean_field(self.rules.get(spec.name, "own")), fill
        )
        require(
            rule.width == learner.mean_action_dim,
            f"player {self.name!r}: its ā rule {rule} does not fit group {spec.name} here",
        )
        return GroupActor(policy=learner.evaluation_policy(seed), rule=rule, rng=rng)


def _learner_dirs(path: Path) -> tuple[Path, dict[str, Any] | None]:
    """A run directory or checkpoint path -> the checkpoint directory and its ``run.json``
    (None for a single learner's checkpoint)."""
    candidate = path / "checkpoint" if (path / "config.json").is_file() else path
    run = resolve_checkpoint_dir(candidate, RUN_FILE)
    if (run / RUN_FILE).is_file():
        meta = read_json(run / RUN_FILE)
        require(isinstance(meta, dict), f"player {path}: {RUN_FILE} is not an object")
        return run, meta
    single = resolve_checkpoint_dir(candidate)
    require(
        (single / META_FILE).is_file(),
        f"player {str(path)!r}: neither a training run nor a checkpoint directory",
    )
    return single, None


def load_player(spec: str) -> Player:
    """A built-in player by name, or the trained player of a run or checkpoint directory;
    anything else (or a corrupt or mismatched checkpoint) is a ConfigError."""
    if spec in BUILTIN_PLAYERS:
        return Player(spec, builtin=spec)
    if spec in PRETRAINED_PLAYERS:
        learners, record = load_export(pretrained_path(spec))
        return _player(spec, learners, record)
    path = Path(spec)
    if not spec or not path.exists():
        builtins = ", ".join([*BUILTIN_PLAYERS, *PRETRAINED_PLAYERS])
        raise ConfigError(
            f"player {spec!r}: not a built-in player ({builtins}) and no such run, "
            "checkpoint or exported policy"
        )
    if export_file(path) is not None:
        learners, record = load_export(path)
        return _player(spec, learners, record)
    where, run = _learner_dirs(path)
    if run is None:
        learner = learner_from_checkpoint(where)
        meta = read_json(where / META_FILE)
        return _player(spec, {str(meta.get("group") or "red"): learner}, meta)
    learners = {}
    for group in run.get("learners") or []:
        learners[str(group)] = learner_from_checkpoint(where / str(group))
    return _player(spec, learners, run)


def player_from_learners(name: str, learners: dict[str, Learner], spec: Any) -> Player:
    """The player of a run being trained (``spec``: its RunSpec; ``learners`` by the group
    that owns each), as ``load_player`` would load it from the run's checkpoint."""
    record = {
        "roles": dict(spec.roles),
        "mean_field": dict(spec.mean_field),
        "env": spec.env.to_dict(),
    }
    return _player(name, learners, record)


def _player(spec: str, learners: dict[str, Learner], meta: dict[str, Any]) -> Player:
    """Map each group the run had to the learner that acted for it."""
    try:
        roles = {str(g): parse_role(str(r)) for g, r in dict(meta.get("roles") or {}).items()}
        rules = {str(g): str(r) for g, r in dict(meta.get("mean_field") or {}).items()}
        env = EnvSource.from_dict(meta["env"]) if meta.get("env") else None
    except (TypeError, ValueError, ConfigError) as exc:
        raise ConfigError(f"player {spec!r}: bad run record in its checkpoint ({exc})") from exc
    by_group: dict[str, Learner] = dict(learners)
    for group, role in roles.items():
        leader = role.follows
        if leader is not None and leader in learners:
            by_group[group] = learners[leader]
    return Player(spec, learners=by_group, rules=rules, env=env)


def agreed_env(sources: Sequence[EnvSource]) -> EnvSource | None:
    """The one environment ``sources`` agree on (None for no source); a ConfigError when the
    trained players come from different environments."""
    for source in sources[1:]:
        if source.factory != sources[0].factory or dict(source.kwargs) != dict(sources[0].kwargs):
            raise ConfigError(
                "the trained players come from different environments "
                f"({sources[0].factory} {dict(sources[0].kwargs)} and {source.factory} "
                f"{dict(source.kwargs)}); give the settings to play in"
            )
    return sources[0] if sources else None


def frozen_policy(path: str, group: str, seed: int) -> Policy:
    """The trained policy at ``path`` (a run or checkpoint directory) for a ``frozen:`` role
    playing ``group``: the learner that played that group in training, or the only one."""
    player = load_player(path)
    require(player.trained, f"frozen:{path}: not a trained run or checkpoint")
    learner = player.learners.get(group)
    if learner is None and len({id(v) for v in player.learners.values()}) == 1:
        learner = next(iter(player.learners.values()))
    require(learner is not None, f"frozen:{path} was not trained for group {group!r}")
    assert learner is not None
    return learner.evaluation_policy(seed)
