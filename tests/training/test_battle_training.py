"""Battle self-play: a short run trains, checkpoints, and its player plays `mfmarl battle`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch  # before magent2

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.cli import main
from mfmarl.envs.battle import BattleConfig, BattleEnv
from mfmarl.training.battle import BattleTrainConfig, choose_opponent, train_battle
from mfmarl.training.checkpoint import save_checkpoint


def _learner(env: BattleEnv, algo: str = "mfq"):
    obs_dim = 13 * 13 * env.view_shape[2] + env.feature_dim
    config = AlgorithmConfig(algo=algo, epsilon_start=0.5, epsilon_end=0.5)  # type: ignore[arg-type]
    return make_learner(config, obs_dim, env.n_actions, env.n_max, view_shape=env.view_shape)


def test_short_self_play_run_updates_and_reports(tmp_path: Path) -> None:
    env = BattleEnv(BattleConfig(map_size=20, max_steps=25))
    for algo in ("mfq", "mfac"):
        learner = _learner(env, algo)
        config = BattleTrainConfig(episodes=2, learning_starts=64, neighbourhood="radius")
        history = list(train_battle(env, learner, config))
        assert [h["episode"] for h in history] == [0, 1]
        last = history[-1]
        assert last["charts/episode_length"] == 25
        assert math.isfinite(last["losses/td_loss"])
        assert 0 <= last["battle/kills_team0"] <= env.n_max
        assert learner.env_steps == 50


def test_trained_player_plays_a_match(tmp_path: Path) -> None:
    env = BattleEnv(BattleConfig(map_size=20, max_steps=25))
    save_checkpoint(tmp_path / "ckpt", _learner(env))
    out = tmp_path / "match"
    args = ["battle", str(tmp_path / "ckpt"), "random", "--rounds", "2", "--map-size", "20"]
    assert main([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["rounds"] == 2 and sum(results["wins"]) + results["ties"] == 2


def test_train_battle_cli_writes_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "battle", "--out", str(out), "--map-size", "20", "--max-steps", "10"]
    assert main([*args, "--episodes", "2", "--learning-starts", "48", "--no-progress"]) == 0
    for name in ("config.json", "metrics.csv", "summary.json", "checkpoint/model.safetensors"):
        assert (out / name).exists(), name
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "battle/kills_team0" in header and "losses/td_loss" in header
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 2 and summary["team_size"] == 12


def test_train_battle_bad_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["train", "battle", "--out", str(tmp_path / "a"), "--map-size", "5"]) == 2
    assert main(["train", "battle", "--out", str(tmp_path / "b"), "--episodes", "0"]) == 2
    assert main(["train", "battle", "--out", str(tmp_path / "c"), "--neighbourhood", "x"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 3


@pytest.mark.parametrize("rule", ["self", "snapshot", "pool"])
def test_self_play_opponent_rules(rule: str) -> None:
    """self: the learner itself. snapshot: the newest frozen copy, taken at the first episode
    and every 3 after it. pool: one of the last 2 copies, drawn uniformly."""
    learner = make_learner(AlgorithmConfig(hidden=(4,)), 3, 2, 2, seed=0)
    config = BattleTrainConfig(opponent=rule, opponent_refresh=3, opponent_pool=2)
    pool: list = []
    rng = np.random.default_rng(0)
    seen: list = []  # the opponents themselves: a freed copy's id could be reused
    for episode in range(5, 5 + 12):  # a session resumed at episode 5
        with torch.no_grad():  # the learner moves on between episodes
            next(iter(learner.modules()["q"].parameters())).add_(1.0)
        opponent = choose_opponent(learner, pool, config, episode, 5, rng)
        if rule == "self":
            assert opponent is learner and not pool
            continue
        assert opponent is not learner
        assert all(not p.requires_grad for m in opponent.modules().values() for p in m.parameters())
        assert len(pool) == (1 if rule == "snapshot" else min(2, (episode - 5) // 3 + 1))
        assert opponent in pool
        seen.append(opponent)
        if rule == "snapshot":
            assert opponent is pool[-1]
    if rule == "snapshot":  # copies taken at episodes 5, 8, 11, 14
        assert len({id(o) for o in seen}) == 4
    if rule == "pool":  # both members of the pool get drawn
        assert len({id(o) for o in seen}) >= 3


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_frozen_copy_acts_like_the_learner_without_optimizer_state(algo: str) -> None:
    """A pool copy gives the learner's action probabilities, holds no gradients and no
    optimizer (Adam) state, and leaves the learner's own training state untouched."""
    from mfmarl.buffers import Batch
    from mfmarl.training.battle import frozen_copy

    learner = make_learner(AlgorithmConfig(algo=algo, hidden=(4,)), 3, 2, 2, seed=0)  # type: ignore[arg-type]
    g = torch.Generator().manual_seed(0)
    batch = Batch(
        obs=torch.rand(2, 2, 3, generator=g),
        actions=torch.randint(0, 2, (2, 2), generator=g),
        mean_action=torch.rand(2, 2, 2, generator=g),
        rewards=torch.rand(2, 2, generator=g),
        next_obs=torch.rand(2, 2, 3, generator=g),
        next_mean_action=torch.rand(2, 2, 2, generator=g),
        dones=torch.zeros(2, 2),
        alive=torch.ones(2, 2),
    )
    learner.update(batch)  # gradients and Adam moments now exist
    copy = frozen_copy(learner, seed=1)
    obs = np.random.default_rng(0).random((2, 3), dtype=np.float32)
    mean = np.full((2, 2), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(copy.act(obs, mean, 0)[1], learner.act(obs, mean, 0)[1])
    assert not any(isinstance(o, torch.optim.Optimizer) for o in vars(copy).values())
    assert all(p.grad is None for m in copy.modules().values() for p in m.parameters())
    trained = [p for m in learner.modules().values() for p in m.parameters() if p.grad is not None]
    assert trained and all(learner.optimizers().values())
    assert all(len(o.state) > 0 for o in learner.optimizers().values())


def _denormals_flushed() -> bool:
    """Whether this thread's arithmetic flushes denormals (1.5e-39 is one; 1e-39 too)."""
    return float(torch.tensor([1e-39]) * 1.5) == 0.0


def test_training_flushes_denormal_floats() -> None:
    """Training switches the CPU to flush denormals to zero (Adam's decayed moments of dead
    units are otherwise many times slower), and nothing else changes it back."""
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    try:
        assert not _denormals_flushed()
        env = BattleEnv(BattleConfig(map_size=20, max_steps=5))
        next(train_battle(env, _learner(env), BattleTrainConfig(episodes=1, learning_starts=64)))
        assert _denormals_flushed()
    finally:
        torch.set_flush_denormal(True)
