"""Battle self-play runs (docs/method.md 6.3): the presets and how they become a RunSpec.

One learner controls both armies. The right army (``blue``) sees the world mirrored
left–right (views flipped, action indices permuted, id bits zeroed), so the shared network
cannot tell the sides apart, plays either side, and learns from both armies' transitions.
The right army is played by the current learner (role ``shared:red``), a frozen snapshot of
it (``snapshot:red``) or a copy drawn from a pool of past snapshots (``pool:red``, the
presets' fictitious self-play); see :class:`BattleTrainConfig`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import ConfigError, require, require_choice
from mfmarl.experiments.battle.env import BattleConfig, battle_source
from mfmarl.training.loop import TrainConfig
from mfmarl.training.spec import RunSpec
from mfmarl.training.threads import check_threads

BATTLE_FACTORY = "mfmarl.experiments.battle.env:make_battle_env"
SCALES = ("quick", "medium", "paper")
MEDIUM_EPISODES = 400
"""The medium preset's budget: the paper's battle with 400 episodes instead of 2000. At 64 v 64
MF-Q and MF-AC beat attack-nearest by episode 200 of a 240-episode run, and once the armies
fight an episode costs a third of a full-length one, so four algorithms × two seeds train in
about two hours on 2 cores (docs/battle.md, "64 v 64: learning curves")."""
LEARNER, OPPONENT = "red", "blue"
"""The groups: the learner plays the left army, its opponent the right (mirrored) one."""


@dataclass(frozen=True)
class BattleTrainConfig:
    """Budget and schedule of a Battle self-play run."""

    episodes: int = 2000
    """Self-play episodes (the paper: 2000)."""
    batch_size: int = 64
    """Agent-transitions per gradient update (rounded up to whole stored team-steps)."""
    buffer_size: int = 80000
    """Replay capacity in agent-transitions."""
    updates_per_step: int = 1
    """Gradient updates after every environment step."""
    learning_starts: int = 1000
    """Agent-transitions stored before the first update."""
    neighbourhood: Literal["team", "radius"] = "team"
    """ā over the living teammates (team, as the reference code) or those within a Chebyshev
    radius on the grid (radius, the paper's N(j))."""
    radius: int = 6
    """Neighbourhood radius in cells (radius neighbourhood; 6 = the view)."""
    seed: int = 0
    """Seed of numpy, torch, the learner's sampling and the battle layouts."""
    device: str = "auto"
    """Torch device of the learner: auto (a GPU when torch sees one, else the CPU), cpu,
    cuda or cuda:N."""
    threads: int = 0
    """Torch CPU threads; 0 (auto): for a lone run, the count a short probe of the run's
    networks measures fastest here (on an idle 2-core machine, 2 threads took a 64 v 64 MF-Q
    episode from 8.5 to 5.3 s); inside a reproduction's worker pool, 1 per run (two torch
    threads beside one busy process on 2 cores ran 14x slower)."""
    opponent: Literal["self", "snapshot", "pool"] = "self"
    """Who plays the right army: self (the current learner, so both sides always play the
    newest policy), snapshot (a frozen copy of the learner, replaced by the current one
    every opponent_refresh episodes) or pool (a frozen copy is added every opponent_refresh
    episodes to a pool of the last opponent_pool copies, and each episode's opponent is
    drawn uniformly from it, as in fictitious self-play). Both armies' transitions are
    stored either way."""
    opponent_refresh: int = 20
    """Episodes between snapshots (opponent=snapshot or pool)."""
    opponent_pool: int = 10
    """Frozen copies kept (opponent=pool)."""
    sparring: float = 0.0
    """Fraction of episodes in which the right army is played by the scripted attack-nearest
    player instead of the learner (its transitions are stored too, as off-policy experience);
    0 = pure self-play."""

    def __post_init__(self) -> None:
        require_choice("neighbourhood", self.neighbourhood, ("team", "radius"))
        require_choice("opponent", self.opponent, ("self", "snapshot", "pool"))
        require(0 <= self.radius <= 1000, f"radius={self.radius} must be in [0, 1000]")
        check_threads(self.threads)
        self.train_config()  # validates the shared fields

    def train_config(self) -> TrainConfig:
        """The loop's :class:`TrainConfig` of these settings."""
        return TrainConfig(
            episodes=self.episodes,
            batch_size=self.batch_size,
            buffer_size=self.buffer_size,
            updates_per_step=self.updates_per_step,
            learning_starts=self.learning_starts,
            seed=self.seed,
            device=self.device,
            opponent_refresh=self.opponent_refresh,
            opponent_pool=self.opponent_pool,
            sparring=self.sparring,
            sparring_player="attack-nearest",
            store_opponents=True,
        )


def opponent_role(train: BattleTrainConfig) -> str:
    return {"self": f"shared:{LEARNER}", "snapshot": f"snapshot:{LEARNER}"}.get(
        train.opponent, f"pool:{LEARNER}"
    )


def battle_spec(
    battle: BattleConfig,
    algo: AlgorithmConfig,
    train: BattleTrainConfig,
    checkpoint_every: int = 0,
    fast: bool = True,
) -> RunSpec:
    """The RunSpec of a Battle self-play run (``fast=False``: through the generic PettingZoo
    adapter, which has no agent positions, so only the team neighbourhood)."""
    rule = "own" if train.neighbourhood == "team" else f"own@{train.radius}"
    require(
        fast or train.neighbourhood == "team",
        "--no-fast has no agent positions: use --neighbourhood team",
    )
    return RunSpec(
        env=battle_source(battle, fast),
        roles={LEARNER: algo.algo, OPPONENT: opponent_role(train)},
        algorithms={LEARNER: algo},
        train=train.train_config(),
        mean_field={LEARNER: rule, OPPONENT: rule},
        checkpoint_every=checkpoint_every,
        name="battle",
    )


def battle_preset(algo: str, scale: str) -> tuple[BattleConfig, AlgorithmConfig, BattleTrainConfig]:
    """Defaults of ``mfmarl train battle``.

    ``paper``: 64 v 64 on 40 × 40, 400 steps, 2000 episodes (docs/method.md 6.3). ``medium``:
    the same battle and networks with :data:`MEDIUM_EPISODES` episodes. ``quick``: 16
    v 16 on 24 × 24, 200 steps, 300 episodes (about 10 minutes on 2 cores). Both: Adam lr 1e-4,
    γ 0.95, batch 64, one update per step, soft target τ 0.005, ε from 1 to 0.05 over the
    first half of the episodes (no fighting appears while ε is high), and a Boltzmann β that
    sharpens from 10 to 100 over the same half. The schedules count episodes, not steps: most
    episodes end in a wipe-out after 30–60 of their 200 steps, and a schedule laid out over
    ``episodes · max_steps / 2`` steps left ε at 0.09–0.12 at the end of the run. Q differences
    between moves are of the order of 0.01–0.1 reward, and with β = 1 the policy stayed almost
    uniform, as passive as random.
    Self-play against a pool (fictitious self-play): every 20 episodes a frozen copy of the
    learner joins a pool of the last 10, and each episode's opponent is drawn from it. Trained
    players act with a Polyak average of the policy weights over about the last 20 episodes
    (``average_tau`` = 1 / (20 · steps)). Against attack-nearest, single checkpoints of the
    trained network swung between 0 and 18 wins in 20 rounds 50 episodes apart; the averages
    of three pool runs ended at 18, 15 and 16 of 20 (docs/battle.md). MF-AC/AC: the expected
    actor gradient Σ_a ∇π(a)·Q(a) (no dependence on the replayed, ε-greedy actions) and
    entropy 0.05; with the sampled gradient and entropy 0.01 both actors collapsed onto moves
    and never fought (0 kills, every round against random a tie), with these both fight
    (docs/battle.md).
    """
    require_choice("scale", scale, SCALES)
    if scale in ("paper", "medium"):
        episodes = 2000 if scale == "paper" else MEDIUM_EPISODES
        battle, steps = BattleConfig(map_size=40, max_steps=400), 400
    else:
        battle, episodes, steps = BattleConfig(map_size=24, max_steps=200), 300, 200
    algo_config = AlgorithmConfig(
        algo=algo,  # type: ignore[arg-type]
        lr=1e-4,
        actor_lr=1e-4,
        gamma=0.95,
        target_tau=0.005,
        beta_start=10.0,
        beta_end=100.0,
        beta_steps=episodes // 2,
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_steps=episodes // 2,
        schedule_unit="episodes",
        dueling=False,
        entropy_coef=0.05,
        actor_gradient="expected",
        average_tau=1.0 / (20 * steps),
    )
    train = BattleTrainConfig(
        episodes=episodes, opponent="pool", opponent_refresh=20, opponent_pool=10
    )
    return battle, algo_config, train


CONFIG_CLASSES: tuple[type, ...] = (BattleConfig, AlgorithmConfig, BattleTrainConfig)
"""The dataclasses whose fields ``--set`` can change (no field name is in two of them)."""
RESCALED = ("episodes", "max_steps", "schedule_unit")
"""Changing these rescales the preset's ε and β schedules (see :func:`scaled_preset`)."""


def owner(key: str) -> type:
    """The config class that has field ``key`` (a ConfigError listing them all otherwise)."""
    for cls in CONFIG_CLASSES:
        if key in {f.name for f in dataclasses.fields(cls)}:
            return cls
    names = sorted({f.name for cls in CONFIG_CLASSES for f in dataclasses.fields(cls)})
    raise ConfigError(f"--set {key}: no such setting; choose from {', '.join(names)}")


def scaled_preset(
    algo: str, scale: str, overrides: Mapping[str, Any] | None = None
) -> tuple[BattleConfig, AlgorithmConfig, BattleTrainConfig]:
    """``battle_preset(algo, scale)`` with ``overrides`` (field name -> value) applied to the
    config that owns each field. When ``episodes``, ``max_steps`` or ``schedule_unit`` change
    and the ε and β schedules are not set explicitly, they are rescaled to the preset's rule
    (over the first half of the run: ``episodes / 2`` episodes, or ``episodes · max_steps / 2``
    steps with ``schedule_unit="steps"``), so a short budget still explores first and
    exploits later."""
    battle, algo_config, train_config = battle_preset(algo, scale)
    overrides = dict(overrides or {})
    parts: dict[type, dict[str, Any]] = {cls: {} for cls in CONFIG_CLASSES}
    for key, value in overrides.items():
        parts[owner(key)][key] = value
    try:
        battle = dataclasses.replace(battle, **parts[BattleConfig])
        train_config = dataclasses.replace(train_config, **parts[BattleTrainConfig])
        algo_part = parts[AlgorithmConfig]
        if any(k in overrides for k in RESCALED):
            if algo_part.get("schedule_unit", algo_config.schedule_unit) == "steps":
                half = train_config.episodes * battle.max_steps // 2
            else:
                half = max(1, train_config.episodes // 2)
            for key in ("beta_steps", "epsilon_steps"):
                algo_part.setdefault(key, half)
        algo_config = dataclasses.replace(algo_config, **algo_part)
    except TypeError as exc:  # a value of the wrong type reached a validator
        raise ConfigError(f"bad setting: {exc}") from exc
    return battle, algo_config, train_config
