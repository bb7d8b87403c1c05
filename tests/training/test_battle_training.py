"""Battle self-play: a short run trains, checkpoints, and its player plays `mfmarl battle`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch  # noqa: F401  (torch before magent2)

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.cli import main
from mfmarl.envs.battle import BattleConfig, BattleEnv
from mfmarl.training.battle import BattleTrainConfig, train_battle
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
