"""Battle self-play through the one loop: a short run trains and checkpoints, its player
plays `mfmarl battle`, the self-play rules, frozen snapshots, and the CPU float mode."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch  # before magent2

from mfmarl.algorithms import AlgorithmConfig, make_learner
from mfmarl.cli import main
from mfmarl.experiments.battle.env import BattleConfig
from mfmarl.experiments.battle.preset import BattleTrainConfig, battle_spec
from mfmarl.training.loop import OpponentPool
from mfmarl.training.run import train_run


def _spec(algo: str, **train: object):
    config = AlgorithmConfig(algo=algo, epsilon_start=0.5, epsilon_end=0.5)  # type: ignore[arg-type]
    settings = {"episodes": 2, "learning_starts": 64, "device": "cpu", **train}
    return battle_spec(
        BattleConfig(map_size=20, max_steps=25), config, BattleTrainConfig(**settings)
    )  # type: ignore[arg-type]


def test_short_self_play_run_updates_and_reports(tmp_path: Path) -> None:
    for algo in ("mfq", "mfac"):
        summary = train_run(_spec(algo, neighbourhood="radius", opponent="pool"), tmp_path / algo)
        rows = (tmp_path / algo / "metrics.csv").read_text().splitlines()
        header = rows[0].split(",")
        last = dict(zip(header, rows[-1].split(",")))
        assert summary.episodes == 2 and last["episode"] == "1"
        assert last["charts/episode_length"] == "25"
        assert math.isfinite(float(last["losses/td_loss"]))
        assert 0 <= float(last["env/red/kills"]) <= 12
        assert summary.env_steps == 50


def test_trained_player_plays_a_match(tmp_path: Path) -> None:
    train_run(_spec("mfq", episodes=1), tmp_path / "run")
    out = tmp_path / "match"
    args = ["battle", str(tmp_path / "run"), "random", "--rounds", "2", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["rounds"] == 2 and sum(results["wins"]) + results["ties"] == 2
    # a learner's own checkpoint directory is a player too
    again = tmp_path / "match2"
    single = str(tmp_path / "run" / "checkpoint" / "red")
    assert main(["battle", single, "random", "--rounds", "1", "--out", str(again)]) == 0


def test_train_battle_cli_writes_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "battle", "--out", str(out), "--map-size", "20", "--max-steps", "10"]
    assert main([*args, "--episodes", "2", "--learning-starts", "48", "--no-progress"]) == 0
    for name in ("config.json", "metrics.csv", "summary.json", "checkpoint/red/model.safetensors"):
        assert (out / name).exists(), name
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert "env/red/kills" in header and "losses/td_loss" in header
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 2 and summary["n_agents"] == 24
    assert json.loads((out / "config.json").read_text())["roles"] == {
        "red": "mfq",
        "blue": "pool:red",
    }


def test_train_battle_bad_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["train", "battle", "--out", str(tmp_path / "a"), "--map-size", "5"]) == 2
    assert main(["train", "battle", "--out", str(tmp_path / "b"), "--episodes", "0"]) == 2
    assert main(["train", "battle", "--out", str(tmp_path / "c"), "--neighbourhood", "x"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 3


@pytest.mark.parametrize("rule", ["snapshot", "pool"])
def test_self_play_opponent_rules(rule: str) -> None:
    """snapshot: the newest frozen copy, taken at the first episode and every 3 after it.
    pool: one of the last 2 copies, drawn uniformly."""
    learner = make_learner(AlgorithmConfig(hidden=(4,)), 3, 2, 2, seed=0)
    pool = OpponentPool(learner, rule, refresh=3, size=2, seed=0)
    rng = np.random.default_rng(0)
    seen: list = []  # the opponents themselves: a freed copy's id could be reused
    for episode in range(5, 5 + 12):  # a session resumed at episode 5
        with torch.no_grad():  # the learner moves on between episodes
            next(iter(learner.modules()["q"].parameters())).add_(1.0)
        opponent = pool.choose(episode, 5, rng)
        assert opponent is not learner.policy
        assert all(not p.requires_grad for p in opponent.network.parameters())
        assert len(pool.copies) == (1 if rule == "snapshot" else min(2, (episode - 5) // 3 + 1))
        assert opponent in pool.copies
        seen.append(opponent)
        if rule == "snapshot":
            assert opponent is pool.copies[-1]
    if rule == "snapshot":  # copies taken at episodes 5, 8, 11, 14
        assert len({id(o) for o in seen}) == 4
    if rule == "pool":  # both members of the pool get drawn
        assert len({id(o) for o in seen}) >= 3


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_frozen_snapshot_acts_like_the_learner_and_stays(algo: str) -> None:
    """A snapshot gives the learner's action probabilities, holds no gradients, and does not
    follow the learner's later updates."""
    from mfmarl.buffers import Batch

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
    copy = learner.frozen_policy(seed=1)
    obs = np.random.default_rng(0).random((2, 3), dtype=np.float32)
    mean = np.full((2, 2), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(copy.act(obs, mean, 0)[1], learner.act(obs, mean, 0)[1])
    assert all(p.grad is None for p in copy.network.parameters())
    before = copy.act(obs, mean, 0)[1]
    for _ in range(20):
        learner.update(batch)
    np.testing.assert_array_equal(copy.act(obs, mean, 0)[1], before)
    assert not np.array_equal(learner.act(obs, mean, 0)[1], before)


def _denormals_flushed() -> bool:
    """Whether this thread's arithmetic flushes denormals (1.5e-39 is one; 1e-39 too)."""
    return float(torch.tensor([1e-39]) * 1.5) == 0.0


def test_the_command_line_flushes_denormal_floats(tmp_path: Path) -> None:
    """The entry points switch the CPU to flush denormals to zero (Adam's decayed moments of
    dead units are otherwise many times slower); the library's loop itself does not."""
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    try:
        assert not _denormals_flushed()
        train_run(_spec("iql", episodes=1), tmp_path / "lib")
        assert not _denormals_flushed()
        args = ["train", "gaussian-squeeze", "--n-agents", "5", "--episodes", "2", "--no-progress"]
        assert main([*args, "--out", str(tmp_path / "cli")]) == 0
        assert _denormals_flushed()
    finally:
        torch.set_flush_denormal(True)
