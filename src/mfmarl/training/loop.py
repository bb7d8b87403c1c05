"""The training loop: one for every environment, algorithm and way of playing a group.

Per step: every group's ā from the previous step (its :class:`MeanFieldRule`), one batched
forward pass per group that a policy plays (all groups' passes first, then their small
operations: :func:`~mfmarl.algorithms.policy.act_together`), scripted or random actions for
the others, one environment step, each group's realised ā, one replay insert per group whose
transitions train a learner, then every learner's updates. The caller gets one metrics dict
per episode (:func:`train` is a generator, so the caller logs, checkpoints or stops between
episodes).

Who plays what is a :class:`~mfmarl.training.roles.Role` per group; self-play opponents are
frozen snapshots of a learner's acting policy (:class:`OpponentPool`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from mfmarl.algorithms import Learner, Policy, act_together
from mfmarl.buffers import AgentReplay, StoredObs
from mfmarl.core.errors import MAX_AGENTS, MAX_REPLAY, MAX_STEPS, require, require_int_in
from mfmarl.envs.base import GroupObs, GroupSpec, MultiGroupEnv
from mfmarl.training.mean_field import MeanFieldRule
from mfmarl.training.roles import Role


@dataclass(frozen=True)
class TrainConfig:
    """Budget, replay and self-play schedule of a training run."""

    episodes: int = 1000
    """Training episodes."""
    batch_size: int = 64
    """Agent-transitions per gradient update (rounded up to whole stored steps of a group)."""
    buffer_size: int = 80000
    """Replay capacity of each learner, in agent-transitions."""
    updates_per_step: int = 1
    """Gradient updates of each learner after every ``update_every``-th environment step."""
    update_every: int = 1
    """Environment steps between a learner's updates (large groups give big batches: one
    stored step of a 500-agent group is 500 agent-transitions)."""
    learning_starts: int = 1
    """Agent-transitions a learner stores before its first update."""
    seed: int = 0
    """Seed of numpy, torch, the learners' sampling and the environment's episodes."""
    device: str = "cpu"
    """Torch device of the learners: cpu, cuda or cuda:N (auto: a GPU when torch sees one)."""
    opponent_refresh: int = 20
    """Episodes between snapshots of a learner for its snapshot:/pool: opponents."""
    opponent_pool: int = 10
    """Frozen copies a pool: opponent keeps (the newest ones)."""
    sparring: float = 0.0
    """Fraction of episodes in which every self-play opponent group (snapshot:, pool:,
    shared:) is played by the scripted sparring player instead (its transitions are stored
    too, as off-policy experience); 0 = pure self-play."""
    sparring_player: str = "attack-nearest"
    """The environment's scripted player used for sparring."""
    store_opponents: bool = True
    """Store the transitions of snapshot:/pool: opponents (and sparring partners) in the
    learner's replay (off-policy experience Q-learning can use)."""

    def __post_init__(self) -> None:
        require_int_in("episodes", self.episodes, 1, MAX_STEPS)
        require_int_in("batch_size", self.batch_size, 1, MAX_AGENTS)
        require_int_in("buffer_size", self.buffer_size, 1, MAX_REPLAY)
        require(self.updates_per_step >= 0, "updates_per_step must be >= 0")
        require(self.update_every >= 1, f"update_every={self.update_every} must be >= 1")
        require(self.learning_starts >= 1, "learning_starts must be >= 1")
        require(0 <= self.seed < 2**63, f"seed={self.seed} must be in [0, 2**63)")
        device = self.device
        require(
            device in ("auto", "cpu", "cuda")
            or (device.startswith("cuda:") and device[5:].isdigit()),
            f"device={device!r} must be auto, cpu, cuda or cuda:N",
        )
        require(self.opponent_refresh >= 1, "opponent_refresh must be >= 1")
        require(self.opponent_pool >= 1, "opponent_pool must be >= 1")
        require(
            math.isfinite(self.sparring) and 0.0 <= self.sparring <= 1.0,
            f"sparring={self.sparring} must be in [0, 1]",
        )


def seed_everything(seed: int) -> np.random.Generator:
    """Seed numpy's and torch's global generators; return a fresh numpy generator."""
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


ScriptedActions = Callable[[Sequence[GroupObs], np.random.Generator], np.ndarray]
"""A scripted player of one group: every group's observations and the loop's generator ->
``(n_slots,)`` actions in the group's own frame."""


class ScriptedEnv(Protocol):
    """An environment that offers scripted players (``scripted:NAME`` roles)."""

    def scripted_player(self, name: str, group: int) -> ScriptedActions: ...


def random_player(n_slots: int, n_actions: int) -> ScriptedActions:
    """Uniform random actions from the loop's generator."""

    def act(obs: Sequence[GroupObs], rng: np.random.Generator) -> np.ndarray:
        return np.asarray(rng.integers(0, n_actions, size=n_slots))

    return act


def scripted(env: Any, name: str, group: int) -> ScriptedActions:
    """The environment's scripted player ``name`` for ``group`` (a ConfigError when it has
    none of that name)."""
    make: Any = getattr(env, "scripted_player", None)
    require(make is not None, f"this environment has no scripted players (asked for {name!r})")
    return make(name, group)  # type: ignore[no-any-return]


@dataclass
class OpponentPool:
    """Frozen snapshots of one learner (the stated self-play rule): a snapshot joins at the
    session's first episode and every ``refresh`` episodes after it; ``snapshot`` plays the
    newest, ``pool`` one drawn uniformly from the last ``size``."""

    learner: Learner
    kind: str
    refresh: int
    size: int
    seed: int
    copies: list[Policy] = field(default_factory=list)

    def choose(self, episode: int, start: int, rng: np.random.Generator) -> Policy:
        if not self.copies or (episode - start) % self.refresh == 0:
            self.copies.append(self.learner.frozen_policy(self.seed * 7919 + episode))
            del self.copies[: -self.size if self.kind == "pool" else -1]
        if self.kind == "snapshot":
            return self.copies[-1]
        return self.copies[int(rng.integers(len(self.copies)))]


@dataclass
class Binding:
    """How one group is played in an episode: a policy (with the learner whose replay its
    transitions go to, if any) or a scripted function."""

    policy: Policy | None = None
    script: ScriptedActions | None = None
    learner: str | None = None
    """The learner group whose replay stores this group's transitions (None: not stored)."""
    clock: str | None = None
    """The learner whose ε and β schedules ``policy`` follows (None: its own constants)."""


def _shape(spec: GroupSpec) -> GroupSpec:
    """A group's spec without its name (two groups of one shape can share a learner)."""
    return dataclasses.replace(spec, name="_")


class Loop:
    """The state of one training session: learners, their replays, opponent pools."""

    def __init__(
        self,
        env: MultiGroupEnv,
        roles: Mapping[str, Role],
        learners: Mapping[str, Learner],
        rules: Sequence[MeanFieldRule],
        config: TrainConfig,
        frozen: Mapping[str, Policy] | None = None,
    ) -> None:
        self.env, self.roles, self.learners, self.rules, self.config = (
            env,
            dict(roles),
            dict(learners),
            list(rules),
            config,
        )
        self.frozen = dict(frozen or {})
        self.names = [g.name for g in env.groups]
        require(len(self.rules) == len(self.names), "one mean-field rule per group")
        self.stores: dict[str, list[int]] = {name: [] for name in self.learners}
        for i, name in enumerate(self.names):
            role = self.roles[name]
            target = name if role.learns else role.follows
            if target is None:
                continue
            same = _shape(env.groups[i]) == _shape(env.groups[self.names.index(target)])
            if role.learns or role.kind == "shared" or (config.store_opponents and same):
                require(
                    same,
                    f"group {name} plays with {target}'s learner, but their shapes differ",
                )
                self.stores[target].append(i)
        self.replays: dict[str, AgentReplay] = {}
        for name in self.learners:
            spec = env.groups[self.names.index(name)]
            width = self.rules[self.names.index(name)].width
            self.replays[name] = AgentReplay(
                max(1, config.buffer_size // spec.n_slots),
                spec.n_slots,
                (spec.obs_dim,),
                width,
                binary_columns=spec.binary_mask(),
            )
        self.pools = {
            name: OpponentPool(
                self.learners[role.arg],
                role.kind,
                config.opponent_refresh,
                config.opponent_pool,
                config.seed,
            )
            for name, role in self.roles.items()
            if role.is_opponent
        }
        self.scripts: dict[str, ScriptedActions] = {}
        for i, name in enumerate(self.names):
            role, spec = self.roles[name], env.groups[i]
            if role.kind == "random":
                self.scripts[name] = random_player(spec.n_slots, spec.n_actions)
            elif role.kind == "scripted":
                self.scripts[name] = scripted(env, role.arg, i)
        self.opponents = [n for n in self.names if self.roles[n].kind in ("snapshot", "pool")] + [
            n for n in self.names if self.roles[n].kind == "shared"
        ]
        self.sparring_scripts = (
            {n: scripted(env, config.sparring_player, self.names.index(n)) for n in self.opponents}
            if config.sparring > 0
            else {}
        )

    def bindings(self, episode: int, start: int, rng: np.random.Generator) -> list[Binding]:
        """Each group's player for ``episode`` of a session that began at ``start`` (the
        opponents' snapshots are taken and drawn here)."""
        chosen: dict[str, Policy] = {}
        for name in self.names:
            if name in self.pools:
                chosen[name] = self.pools[name].choose(episode, start, rng)
        return [self._binding(name, chosen) for name in self.names]

    def sparring_partner(self, binding: Binding, name: str) -> Binding:
        """The scripted sparring player in place of opponent group ``name``'s player (its
        transitions still go where the opponent's went)."""
        return Binding(script=self.sparring_scripts[name], learner=binding.learner)

    def _binding(self, name: str, chosen: Mapping[str, Policy]) -> Binding:
        role = self.roles[name]
        index = self.names.index(name)
        store = next((t for t, groups in self.stores.items() if index in groups), None)
        if role.learns:
            return Binding(self.learners[name].policy, learner=store, clock=name)
        if role.kind == "shared":
            return Binding(self.learners[role.arg].policy, learner=store, clock=role.arg)
        if role.is_opponent:  # snapshots keep the learner's schedules
            return Binding(chosen[name], learner=store, clock=role.arg)
        if role.kind == "frozen":
            return Binding(self.frozen[name])
        return Binding(script=self.scripts[name])


def _clock(learners: Mapping[str, Learner], binding: Binding, step: int) -> int:
    """Where the schedules of ``binding``'s policy stand (its learner's clock, else ``step``)."""
    name = binding.clock
    return learners[name].clock() if name is not None and name in learners else step


def train(
    env: MultiGroupEnv,
    roles: Mapping[str, Role],
    learners: Mapping[str, Learner],
    rules: Sequence[MeanFieldRule],
    config: TrainConfig,
    *,
    frozen: Mapping[str, Policy] | None = None,
    start_episode: int = 0,
    rng: np.random.Generator | None = None,
) -> Iterator[dict[str, Any]]:
    """Train ``learners`` (keyed by the group that owns each) on ``env`` from episode
    ``start_episode``; yield one metrics dict per episode.

    ``roles`` and ``rules`` (one :class:`MeanFieldRule` per group, in the env's group order)
    say who plays each group and what ā it sees; ``frozen`` holds the policies of
    ``frozen:`` roles. ``rng`` (replay sampling, opponent draws, sparring, scripted players)
    defaults to one seeded from ``config.seed``; a resumed run passes the saved one.
    """
    if rng is None:
        rng = seed_everything(config.seed)
    state = Loop(env, roles, learners, rules, config, frozen)
    names, specs = state.names, env.groups
    n_groups = len(names)
    step = max((learner.env_steps for learner in learners.values()), default=0)
    timing = {name: learners[name].config.mean_action_timing for name in learners}
    previous = [rule.initial() for rule in rules]
    primary = next(iter(learners))
    for episode in range(start_episode, config.episodes):
        bindings = state.bindings(episode, start_episode, rng)
        for learner in learners.values():
            learner.episodes = episode
        started = time.perf_counter()
        obs = env.reset(config.seed * 100_003 + episode)
        sparring = False
        if state.opponents:
            sparring = bool(rng.random() < config.sparring)
            if sparring:
                for name in state.opponents:
                    i = names.index(name)
                    bindings[i] = state.sparring_partner(bindings[i], name)
        if not env.continuing:
            previous = [rule.initial() for rule in rules]
        stored: list[StoredObs | None] = [None] * n_groups
        returns = np.zeros(n_groups)
        totals: dict[str, float] = {}
        losses: dict[str, dict[str, list[float]]] = {name: {} for name in learners}
        length = 0
        done = False
        acting = [i for i, b in enumerate(bindings) if b.policy is not None]
        while not done:
            actions: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * n_groups
            if acting:
                acted = act_together(
                    [bindings[i].policy for i in acting],  # type: ignore[misc]
                    [obs[i].obs for i in acting],
                    [previous[i] for i in acting],
                    [_clock(learners, bindings[i], step) for i in acting],
                    [obs[i].alive for i in acting],
                )
                for i, (chosen, _) in zip(acting, acted):
                    actions[i] = chosen
            for i, binding in enumerate(bindings):
                if binding.script is not None:
                    actions[i] = binding.script(obs, rng)
            result = env.step(actions)
            done = result.done
            alive = [o.alive for o in obs]
            positions = [o.positions for o in obs]
            for i in range(n_groups):
                group_step = result.groups[i]
                realised = rules[i].compute(actions, alive, positions)
                target = bindings[i].learner
                if target is not None:
                    fitted = realised if timing[target] == "realised" else previous[i]
                    carried = stored[i]
                    stored[i] = state.replays[target].add(
                        obs[i].obs if carried is None else carried,
                        actions[i],
                        fitted,
                        group_step.rewards,
                        group_step.next.obs,
                        realised,
                        group_step.terminated.astype(np.float32),
                        alive[i].astype(np.float32),
                    )
                returns[i] += float(group_step.rewards.sum(dtype=np.float64)) / specs[i].n_slots
                previous[i] = realised
            for key, value in result.info.items():
                totals[key] = totals.get(key, 0.0) + float(value)
            obs = tuple(g.next for g in result.groups)
            step += 1
            length += 1
            for name, learner in learners.items():
                learner.env_steps = step
                replay = state.replays[name]
                n_slots = replay.n_agents
                if len(replay) * n_slots < config.learning_starts or step % config.update_every:
                    continue
                steps_per_batch = max(1, math.ceil(config.batch_size / n_slots))
                for _ in range(config.updates_per_step):
                    batch = replay.sample(steps_per_batch, rng, config.device)
                    for key, value in learner.update(batch, learner.clock()).items():
                        losses[name].setdefault(key, []).append(value)
        seconds = time.perf_counter() - started
        metrics: dict[str, Any] = {
            "episode": episode,
            "charts/episodic_return": float(returns.mean()),
            "charts/episode_length": length,
            "charts/global_step": step,
        }
        for i, name in enumerate(names):
            metrics[f"{name}/episodic_return"] = float(returns[i])
        metrics.update({f"env/{k}": v / length for k, v in totals.items()})
        metrics.update({f"env/{k}": v for k, v in env.episode_info().items()})
        if state.opponents:
            metrics["charts/sparring"] = float(sparring)
        for name, learner in learners.items():
            learner.episodes = episode + 1
            prefix = "" if name == primary else f"{name}/"
            metrics.update({f"{prefix}{k}": float(np.mean(v)) for k, v in losses[name].items()})
            schedules = learner.schedules(learner.clock())
            metrics.update({f"{prefix}{k}": v for k, v in schedules.items()})
        metrics["time/steps_per_second"] = length / max(seconds, 1e-9)
        metrics["time/episode_seconds"] = seconds
        yield metrics


def train_learner(
    env: MultiGroupEnv, learner: Learner, config: TrainConfig, rule: str = "own"
) -> Iterator[dict[str, Any]]:
    """:func:`train` for the simplest case: one learner plays every group of ``env`` (one
    group learns, the others share its learner), each group seeing ā by ``rule``."""
    from mfmarl.training.mean_field import parse_mean_field

    names = [g.name for g in env.groups]
    roles = {names[0]: Role("learn", learner.config.algo)}
    roles.update({name: Role("shared", names[0]) for name in names[1:]})
    fill = learner.config.initial_mean_action
    parts = parse_mean_field(rule)
    rules = [MeanFieldRule(env.groups, i, parts, fill) for i in range(len(names))]
    return train(env, roles, {names[0]: learner}, rules, config)
