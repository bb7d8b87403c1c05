"""Self-play training on Battle (docs/method.md 6.3).

One learner controls both armies. Team 1 sees the world mirrored left–right (its views
flipped, its action indices permuted, id bits zeroed), so the shared network cannot tell the
sides apart, plays either side, and learns from both teams' transitions. The right army is
played by the current learner, a frozen snapshot of it, or a copy drawn from a pool of past
snapshots (:attr:`BattleTrainConfig.opponent`, the stated self-play rule).
Per step: one batched forward pass per team on the previous step's ā, one engine step, the
realised ā of the executed actions, two replay inserts (one per team), then the updates.
Dead slots are masked in the replay and in every loss; an agent's dying step is stored with
``done = 1``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from tqdm import tqdm

from mfmarl import __version__
from mfmarl.algorithms import AlgorithmConfig, Learner, act_together, make_learner
from mfmarl.buffers import AgentReplay, StoredObs
from mfmarl.core.errors import ConfigError, require, require_choice
from mfmarl.core.mean_action import Fill, radius_mean_action, team_mean_action
from mfmarl.envs.battle import (
    MIRROR_ACTIONS,
    BattleConfig,
    BattleEnv,
    TeamObs,
    mirror_observations,
)
from mfmarl.envs.scripted import attack_nearest_actions
from mfmarl.training.checkpoint import (
    algorithm_config_from_dict,
    load_checkpoint,
    save_checkpoint,
)
from mfmarl.training.logger import MetricsLogger, truncate_metrics
from mfmarl.training.loop import fill_mean_action, seed_everything
from mfmarl.training.rundir import read_json, write_json_atomic
from mfmarl.training.runtime import tune_cpu_runtime


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
    neighbourhood: str = "team"
    """ā over the living teammates (team, as the reference code) or those within a Chebyshev
    radius on the grid (radius, the paper's N(j))."""
    radius: int = 6
    """Neighbourhood radius in cells (radius neighbourhood; 6 = the view)."""
    seed: int = 0
    """Seed of numpy, torch, the learner's sampling and the battle layouts."""
    device: str = "auto"
    """Torch device of the learner: auto (a GPU when torch sees one, else the CPU), cpu,
    cuda or cuda:N."""
    threads: int = 1
    """Torch CPU threads. 1 suits several runs sharing the cores (two torch threads beside one
    busy process on 2 cores ran 14x slower). A lone run may use every core: on an idle
    2-core machine, 2 threads took a 64 v 64 MF-Q episode from 6.9 to 4.9 s."""
    opponent: str = "self"
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
        require(self.episodes > 0, f"episodes={self.episodes} must be > 0")
        require(self.batch_size > 0, f"batch_size={self.batch_size} must be > 0")
        require(self.buffer_size > 0, f"buffer_size={self.buffer_size} must be > 0")
        require(self.updates_per_step >= 0, "updates_per_step must be >= 0")
        require(self.learning_starts >= 1, "learning_starts must be >= 1")
        require_choice("neighbourhood", self.neighbourhood, ("team", "radius"))
        require(self.radius >= 0, f"radius={self.radius} must be >= 0")
        require(self.threads >= 1, f"threads={self.threads} must be >= 1")
        require(
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
            f"device={self.device!r} must be auto, cpu, cuda or cuda:N",
        )
        require_choice("opponent", self.opponent, ("self", "snapshot", "pool"))
        require(self.opponent_refresh >= 1, "opponent_refresh must be >= 1")
        require(self.opponent_pool >= 1, "opponent_pool must be >= 1")
        require(0.0 <= self.sparring <= 1.0, f"sparring={self.sparring} must be in [0, 1]")


def team_inputs(obs: TeamObs, team: int) -> np.ndarray:
    """Flat learner inputs ``(n_max, H·W·C + F)`` of one team; team 1 is mirrored.

    Written straight into the one output array (no intermediate mirrored copies).
    """
    view, features = obs.view, obs.features
    n, size = view.shape[0], view[0].size
    out = np.empty((n, size + features.shape[1]), dtype=np.float32)
    out_view = out[:, :size].reshape(view.shape)
    if team == 1:
        mirror_observations(view, features, (out_view, out[:, size:]))
    else:
        out_view[...] = view
        out[:, size:] = features
    return out


def to_engine_actions(actions: np.ndarray, team: int) -> np.ndarray:
    """Learner-frame actions -> the engine's (team 1 plays mirrored)."""
    return MIRROR_ACTIONS[actions] if team == 1 else actions


def realised_mean_action(
    actions: np.ndarray,
    obs: TeamObs,
    n_actions: int,
    fill: str,
    neighbourhood: str = "team",
    radius: int = 6,
    map_size: int | None = None,
) -> np.ndarray:
    """ā ``(n_max, D)`` of the actions ``(n_max,)`` the living agents of ``obs`` executed."""
    fill_kind = cast(Fill, fill)
    if neighbourhood == "radius":
        grid = (map_size, map_size) if map_size is not None else None
        positions = np.where(obs.positions >= 0, obs.positions, 0)
        return radius_mean_action(
            actions,
            obs.alive,
            positions,
            radius,
            n_actions,
            False,
            fill_kind,
            grid,
        )
    return team_mean_action(actions, obs.alive, n_actions, include_self=False, fill=fill_kind)


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; an unavailable GPU is a
    :class:`ConfigError`."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r}: torch sees no CUDA GPU (use --device cpu or auto)")
    return name


def train_battle(
    env: BattleEnv,
    learner: Learner,
    config: BattleTrainConfig,
    start_episode: int = 0,
    rng: np.random.Generator | None = None,
) -> Iterator[dict[str, Any]]:
    """Self-play ``learner`` on ``env`` from episode ``start_episode``; yield one metrics dict
    per episode. ``rng`` (replay sampling, sparring choices) defaults to one seeded from
    ``config.seed``; a resumed run passes the saved one."""
    tune_cpu_runtime()
    if rng is None:
        rng = seed_everything(config.seed)
    device = resolve_device(config.device)
    algo = learner.config
    n, d = env.n_max, env.n_actions
    obs_dim = learner.obs_dim
    replay = AgentReplay(
        max(1, config.buffer_size // n),
        n,
        (obs_dim,),
        d,
        binary_columns=env.binary_input_columns(),
    )
    steps_per_batch = max(1, math.ceil(config.batch_size / n))
    step = learner.env_steps
    pool: list[Learner] = []
    for episode in range(start_episode, config.episodes):
        opponent = choose_opponent(learner, pool, config, episode, start_episode, rng)
        started = time.perf_counter()
        obs = env.reset(config.seed * 100_003 + episode)
        sparring = bool(rng.random() < config.sparring)
        inputs = [team_inputs(obs[t], t) for t in (0, 1)]
        previous = [fill_mean_action(n, d, algo.initial_mean_action) for _ in (0, 1)]
        stored: list[StoredObs | None] = [None, None]  # inputs[t] as the replay holds them
        returns = np.zeros(2)
        losses: dict[str, list[float]] = {}
        length = 0
        done = False
        while not done:
            if sparring:  # the scripted player's engine actions, in the learner's frame
                actions = [
                    learner.act(inputs[0], previous[0], step, obs[0].alive)[0],
                    MIRROR_ACTIONS[attack_nearest_actions(obs[1], rng, env.opponent_channel)],
                ]
            else:  # both forward passes, then both armies' small operations
                acted = act_together(
                    [learner, opponent], inputs, previous, step, [o.alive for o in obs]
                )
                actions = [a for a, _ in acted]
            result = env.step(to_engine_actions(actions[0], 0), to_engine_actions(actions[1], 1))
            done = result.done
            truncated = done and min(env.alive_counts) > 0
            for t in (0, 1):
                alive = obs[t].alive
                realised = realised_mean_action(
                    actions[t],
                    obs[t],
                    d,
                    algo.initial_mean_action,
                    config.neighbourhood,
                    config.radius,
                    env.config.map_size,
                )
                fitted = realised if algo.mean_action_timing == "realised" else previous[t]
                next_inputs = team_inputs(result.obs[t], t)
                dones = result.died[t] | (done and not truncated)
                carried = stored[t]
                stored[t] = replay.add(
                    inputs[t] if carried is None else carried,
                    actions[t],
                    fitted,
                    result.rewards[t],
                    next_inputs,
                    realised,
                    dones.astype(np.float32),
                    alive.astype(np.float32),
                )
                returns[t] += float(result.rewards[t].sum()) / n
                inputs[t], previous[t] = next_inputs, realised
            obs = result.obs
            step += 1
            learner.env_steps = step
            length += 1
            if len(replay) * n >= config.learning_starts:
                for _ in range(config.updates_per_step):
                    batch = replay.sample(steps_per_batch, rng, device)
                    for key, value in learner.update(batch, step).items():
                        losses.setdefault(key, []).append(value)
        seconds = time.perf_counter() - started
        kills, survivors = env.kills, env.alive_counts
        metrics: dict[str, Any] = {
            "episode": episode,
            "charts/episodic_return": float(returns.mean()),
            "charts/episode_length": length,
            "battle/return_team0": float(returns[0]),
            "battle/return_team1": float(returns[1]),
            "battle/kills_team0": kills[0],
            "battle/kills_team1": kills[1],
            "battle/survivors_team0": survivors[0],
            "battle/survivors_team1": survivors[1],
            "battle/win_team0": float(kills[0] > kills[1]),
            "battle/sparring": float(sparring),
        }
        metrics.update({k: float(np.mean(v)) for k, v in losses.items()})
        metrics.update(learner.schedules(step))
        metrics["time/steps_per_second"] = length / max(seconds, 1e-9)
        metrics["time/episode_seconds"] = seconds
        yield metrics


def choose_opponent(
    learner: Learner,
    pool: list[Learner],
    config: BattleTrainConfig,
    episode: int,
    start_episode: int,
    rng: np.random.Generator,
) -> Learner:
    """The right army's player in ``episode`` of a session that began at ``start_episode``
    (the stated self-play rule, :attr:`BattleTrainConfig.opponent`). ``pool`` holds the
    frozen copies taken so far and is updated in place: a copy of ``learner`` joins it at the
    session's first episode and every ``opponent_refresh`` episodes after it; ``snapshot``
    keeps the newest one, ``pool`` the last ``opponent_pool`` and draws one uniformly."""
    if config.opponent == "self":
        return learner
    if not pool or (episode - start_episode) % config.opponent_refresh == 0:
        pool.append(frozen_copy(learner, config.seed * 7919 + episode))
        del pool[: -config.opponent_pool if config.opponent == "pool" else -1]
    if config.opponent == "snapshot":
        return pool[-1]
    return pool[int(rng.integers(len(pool)))]


def frozen_copy(learner: Learner, seed: int) -> Learner:
    """A copy of ``learner`` that acts like it and is never trained, with its own sampling
    generator (so the two armies do not draw the same random numbers). The optimizers (their
    Adam moments) and the gradients are left out: acting reads neither, and they held a third
    of a copy's memory (17.5 -> 11.7 MB for the paper's MF-Q network). The copy's optimizer
    attributes are ``None``."""
    no_optimizers: dict[int, Any] = {id(o): None for o in learner.optimizers().values()}
    copy = deepcopy(learner, no_optimizers)
    copy.generator = torch.Generator(device="cpu").manual_seed(seed)
    for module in copy.modules().values():
        module.requires_grad_(False)
        for parameter in module.parameters():
            parameter.grad = None
    return copy


def battle_preset(algo: str, scale: str) -> tuple[BattleConfig, AlgorithmConfig, BattleTrainConfig]:
    """Defaults of ``mfmarl train battle``.

    ``paper``: 64 v 64 on 40 × 40, 400 steps, 2000 episodes (docs/method.md 6.3). ``quick``: 16 v 16
    on 24 × 24, 200 steps, 300 episodes (about 10 minutes on 2 cores). Both: Adam lr 1e-4,
    γ 0.95, batch 64, one update per step, soft target τ 0.005, ε from 1 to 0.05 over the
    first half of the run (no fighting appears while ε is high), and a Boltzmann β that
    sharpens from 10 to 100 over the same half: Q differences between moves are of the order
    of 0.01–0.1 reward, and with β = 1 the policy stayed almost uniform, as passive as random.
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
    require_choice("scale", scale, ("quick", "paper"))
    if scale == "paper":
        battle, episodes, steps = BattleConfig(map_size=40, max_steps=400), 2000, 400
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
        beta_steps=episodes * steps // 2,
        epsilon_start=1.0,
        epsilon_end=0.05,
        epsilon_steps=episodes * steps // 2,
        dueling=False,
        entropy_coef=0.05,
        actor_gradient="expected",
        average_tau=1.0 / (20 * steps),
    )
    train = BattleTrainConfig(
        episodes=episodes, opponent="pool", opponent_refresh=20, opponent_pool=10
    )
    return battle, algo_config, train


def battle_obs_dim(env: BattleEnv) -> int:
    """Length of a flat learner input: the view and the features."""
    height, width, channels = env.view_shape
    return height * width * channels + env.feature_dim


def make_battle_learner(
    env: BattleEnv, algo_config: AlgorithmConfig, seed: int = 0, device: str = "cpu"
) -> Learner:
    """A learner for ``env``'s armies: view networks on :func:`team_inputs`, one slot per
    agent of the larger team, the engine's 21 actions."""
    return make_learner(
        algo_config,
        battle_obs_dim(env),
        env.n_actions,
        env.n_max,
        device,
        seed,
        view_shape=cast(tuple[int, int, int], env.view_shape),
    )


def run_battle_training(
    battle: BattleConfig,
    algo_config: AlgorithmConfig,
    train_config: BattleTrainConfig,
    out: Path,
    progress: bool = False,
    checkpoint_every: int = 0,
    command: list[str] | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Self-play into ``out``: config.json, metrics.csv, tb/, checkpoint/ (every
    ``checkpoint_every`` episodes and at the end; see :mod:`mfmarl.training.checkpoint` for
    why a killed save leaves a good one) and summary.json.

    ``resume``: continue the run in ``out`` from its checkpoint (the learner's networks,
    optimizer state, counters and sampling generator, and the trainer's numpy generator);
    metrics rows after the checkpoint are dropped and then logged again. The replay buffer is
    not saved (it would be gigabytes at the paper's scale), so it is refilled after a resume.
    ``should_stop`` is asked after every episode; a stopped run checkpoints and can be resumed.
    """
    require(checkpoint_every >= 0, f"checkpoint_every={checkpoint_every} must be >= 0")
    tune_cpu_runtime()  # before the thread pool starts, so that its threads flush too
    torch.set_num_threads(train_config.threads)
    device = resolve_device(train_config.device)
    env = BattleEnv(battle)
    learner = make_battle_learner(env, algo_config, train_config.seed, device)
    env_meta = {"name": "battle", "config": dataclasses.asdict(battle)}
    rng = seed_everything(train_config.seed)
    start = 0
    if resume:
        start, rng = _restore(out / "checkpoint", learner, train_config)
        truncate_metrics(out / "metrics.csv", start)
    else:
        write_json_atomic(
            out / "config.json",
            {
                "env": env_meta,
                "algorithm": dataclasses.asdict(algo_config),
                "train": dataclasses.asdict(train_config),
                "checkpoint_every": checkpoint_every,
                "mfmarl_version": __version__,
                "command": command,
            },
        )

    def checkpoint(episode: int) -> None:
        meta = {
            "env": env_meta,
            "train": dataclasses.asdict(train_config),
            "episode": episode,
            "train_rng": rng.bit_generator.state,
        }
        save_checkpoint(out / "checkpoint", learner, meta)

    bar = (
        tqdm(
            total=train_config.episodes,
            initial=start,
            desc=f"{algo_config.algo} battle",
            unit="ep",
            dynamic_ncols=True,
        )
        if progress
        else None
    )
    logger = MetricsLogger(out, append=resume)
    history: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for metrics in train_battle(env, learner, train_config, start, rng):
            logger.log(metrics)
            history.append(metrics)
            done = metrics["episode"] + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    kills=f"{metrics['battle/kills_team0']}:{metrics['battle/kills_team1']}"
                )
            if checkpoint_every and done % checkpoint_every == 0:
                checkpoint(done)
            if should_stop is not None and should_stop():
                break
    finally:
        if bar is not None:
            bar.close()
        logger.close()
    if history:
        checkpoint(history[-1]["episode"] + 1)
    seconds = time.perf_counter() - started
    steps = sum(h["charts/episode_length"] for h in history)
    summary = {
        "algo": algo_config.algo,
        "map_size": battle.map_size,
        "team_size": env.n_max,
        "episodes": train_config.episodes,
        "episodes_this_session": len(history),
        "resumed_from_episode": start if resume else None,
        "stopped_early": bool(history) and history[-1]["episode"] + 1 < train_config.episodes,
        "device": device,
        "seconds": seconds,
        "seconds_per_episode": seconds / max(len(history), 1),
        "env_steps_per_second": steps / max(seconds, 1e-9),
    }
    write_json_atomic(out / "summary.json", summary)
    return summary


def _restore(
    path: Path, learner: Learner, train_config: BattleTrainConfig
) -> tuple[int, np.random.Generator]:
    """Load the run's checkpoint into ``learner``; return the next episode and the trainer's
    generator as saved."""
    ckpt = load_checkpoint(path, learner)
    try:
        start = int(ckpt.metadata["episode"])
        rng = np.random.default_rng()
        rng.bit_generator.state = ckpt.metadata["train_rng"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"checkpoint {ckpt.path}: no resumable trainer state ({exc})") from exc
    require(
        start <= train_config.episodes,
        f"checkpoint {ckpt.path} is at episode {start}, past the run's {train_config.episodes}",
    )
    return start, rng


def load_battle_run(out: Path) -> tuple[BattleConfig, AlgorithmConfig, BattleTrainConfig, int]:
    """The configs recorded in a battle run's ``config.json`` (for ``--resume``)."""
    data = read_json(out / "config.json")
    try:
        env = data["env"]
        require(env.get("name") == "battle", f"{out} is not a battle training run")
        battle = BattleConfig(**env["config"])
        algo = algorithm_config_from_dict(dict(data["algorithm"]))
        train = BattleTrainConfig(**data["train"])
        every = int(data.get("checkpoint_every", 0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{out}/config.json: not a battle run's config ({exc})") from exc
    return battle, algo, train, every
