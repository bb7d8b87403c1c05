"""ε and β counted in environment steps or in episodes, on episodes of uneven length."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.envs.base import EnvStep, GroupObs, GroupSpec, GroupStep
from mfmarl.training.checkpoint import load_checkpoint, save_checkpoint
from mfmarl.training.loop import TrainConfig, train_learner


class UnevenEpisodes:
    """One group of two agents; episode ``e`` (counted by resets) lasts ``LENGTHS[e]`` steps."""

    LENGTHS = (1, 5, 2, 7, 3, 1)
    groups = (GroupSpec("agent", 2, 1, 2),)
    continuing = False

    def __init__(self) -> None:
        self.episode, self.t = -1, 0

    def _obs(self) -> tuple[GroupObs, ...]:
        return (GroupObs(np.zeros((2, 1), dtype=np.float32), np.ones(2, dtype=bool)),)

    def reset(self, seed: int | None = None) -> tuple[GroupObs, ...]:
        self.episode, self.t = self.episode + 1, 0
        return self._obs()

    def step(self, actions: Sequence[np.ndarray]) -> EnvStep:
        self.t += 1
        done = self.t >= self.LENGTHS[self.episode]
        rewards = actions[0].astype(np.float32)
        ended = np.full(2, done)
        step = GroupStep(self._obs()[0], rewards, ended, np.zeros(2, dtype=bool))
        return EnvStep((step,), done, {})

    def episode_info(self) -> dict[str, float]:
        return {}


def _epsilons(unit: str, tmp_path: Path | None = None) -> list[float]:
    config = AlgorithmConfig(
        algo="mfq",
        epsilon_start=1.0,
        epsilon_end=0.0,
        epsilon_steps=4,
        beta_start=1.0,
        beta_end=16.0,
        beta_steps=4,
        schedule_unit=unit,  # type: ignore[arg-type]
    )
    learner = make_learner(config, obs_dim=1, n_actions=2, n_agents=2)
    acted_at: list[int] = []  # the schedule step each acting step used
    mixed = learner.policy._mixed

    def recording(obs, mean_action, step, scores):  # type: ignore[no-untyped-def]
        acted_at.append(step)
        return mixed(obs, mean_action, step, scores)

    learner.policy._mixed = recording  # type: ignore[method-assign]
    train = TrainConfig(episodes=len(UnevenEpisodes.LENGTHS), batch_size=2)
    rows = list(train_learner(UnevenEpisodes(), learner, train))
    lengths = UnevenEpisodes.LENGTHS
    if unit == "episodes":  # every step of episode e acts at e
        assert acted_at == [e for e, n in enumerate(lengths) for _ in range(n)]
    else:
        assert acted_at == list(range(sum(lengths)))
    assert [r["charts/episode_length"] for r in rows] == list(UnevenEpisodes.LENGTHS)
    betas = [r["charts/beta"] for r in rows]
    if unit == "episodes":  # β doubles every episode: 1, 2, 4, 8, then 16
        assert betas == pytest.approx([2.0, 4.0, 8.0, 16.0, 16.0, 16.0])
    # trained players act at the final β (here 16 either way), also from a checkpoint
    assert learner.evaluation_policy().to_probs.beta(0) == pytest.approx(16.0)  # type: ignore[union-attr]
    if tmp_path is not None:
        save_checkpoint(tmp_path / "ckpt", learner)
        fresh = make_learner(config, obs_dim=1, n_actions=2, n_agents=2)
        load_checkpoint(tmp_path / "ckpt", fresh)
        assert (fresh.episodes, fresh.env_steps) == (6, sum(UnevenEpisodes.LENGTHS))
        assert fresh.evaluation_policy().to_probs.beta(0) == pytest.approx(16.0)  # type: ignore[union-attr]
    return [r["charts/epsilon"] for r in rows]


def test_schedules_in_episodes_move_once_per_episode_whatever_its_length(tmp_path: Path) -> None:
    # after episode e (0-based) ε = 1 − (e + 1)/4, then 0
    assert _epsilons("episodes", tmp_path) == pytest.approx([0.75, 0.5, 0.25, 0.0, 0.0, 0.0])


def test_schedules_in_steps_follow_the_steps_taken() -> None:
    # steps taken by the end of each episode: 1, 6, 8, ...: ε = 1 − 1/4, then 0
    assert _epsilons("steps") == pytest.approx([0.75, 0.0, 0.0, 0.0, 0.0, 0.0])


def test_an_unknown_schedule_unit_is_refused() -> None:
    from mfmarl.core.errors import ConfigError

    with pytest.raises(ConfigError, match="schedule_unit"):
        AlgorithmConfig(schedule_unit="hours")  # type: ignore[arg-type]
