"""``compare_with_random`` against exact returns, and ``mfmarl evaluate`` end to end on a
one-group game (a two-group game: tests/cli/test_train_generic.py)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mfmarl.cli import main
from mfmarl.envs.base import MultiGroupEnv
from mfmarl.evaluation.players import GroupActor, Player
from mfmarl.evaluation.returns import compare_with_random
from mfmarl.experiments.gaussian_squeeze.env import GaussianSqueeze, GaussianSqueezeConfig

N, D, MU, SIGMA = 4, 3, 4.0, 2.0


class EveryoneTakes(Player):
    """Every agent of every group takes action ``k``."""

    def __init__(self, k: int) -> None:
        super().__init__(name=f"always-{k}")
        self.k = k

    def actor(self, env: MultiGroupEnv, group: int, seed: int) -> GroupActor:
        n = env.groups[group].n_slots
        return GroupActor(script=lambda obs, rng: np.full(n, self.k, dtype=np.int64))


def _exact_random_return() -> float:
    """E[G(x)] for x the sum of N uniform actions in {0, ..., D-1}, by enumeration."""
    total = 0.0
    for actions in itertools.product(range(D), repeat=N):
        x = sum(actions)
        total += x * math.exp(-((x - MU) ** 2) / SIGMA**2)
    return total / D**N


def test_trained_and_random_returns_are_the_exact_ones() -> None:
    env = GaussianSqueeze(GaussianSqueezeConfig(n_agents=N, mu=MU, sigma=SIGMA, n_actions=D))
    (result,) = compare_with_random(env, EveryoneTakes(1), ["agent"], episodes=400, seed=3)
    assert result.trained == pytest.approx(4.0)  # x = 4 = mu: G = 4 * exp(0) for every agent
    random = _exact_random_return()  # 2.71..: well below G(mu)
    assert result.random == pytest.approx(random, abs=0.12)  # 400 draws: SE ~ 0.045
    assert result.difference == pytest.approx(4.0 - result.random)
    assert result.ci95[0] < result.difference < result.ci95[1]
    assert result.beats_random


def test_a_player_worse_than_random_is_said_to_be() -> None:
    env = GaussianSqueeze(GaussianSqueezeConfig(n_agents=N, mu=MU, sigma=SIGMA, n_actions=D))
    (result,) = compare_with_random(env, EveryoneTakes(0), ["agent"], episodes=50)
    assert result.trained == 0.0  # x = 0: G = 0
    assert result.ci95[1] < 0 and not result.beats_random


def test_a_stop_request_ends_the_comparison_after_the_current_episode() -> None:
    env = GaussianSqueeze(GaussianSqueezeConfig(n_agents=N, mu=MU, sigma=SIGMA, n_actions=D))
    asked: list[int] = []

    def stop_after(k: int):  # type: ignore[no-untyped-def]
        asked.clear()
        return lambda: asked.append(1) or len(asked) >= k

    (result,) = compare_with_random(env, EveryoneTakes(1), ["agent"], 50, should_stop=stop_after(3))
    assert result.episodes == 3 and result.trained == pytest.approx(4.0)
    with pytest.raises(KeyboardInterrupt):  # one episode gives no interval
        compare_with_random(env, EveryoneTakes(1), ["agent"], 50, should_stop=stop_after(1))


def test_evaluate_a_one_group_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "gs"
    train = ["train", "gaussian-squeeze", "--n-agents", "6", "--episodes", "20"]
    assert main([*train, "--out", str(run), "--no-progress"]) == 0
    out = tmp_path / "eval"
    args = ["evaluate", str(run), "--episodes", "4", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "agent" in printed and "beats random" in printed
    record = json.loads((out / "results.json").read_text())
    assert [g["group"] for g in record["groups"]] == ["agent"]
    assert record["episodes"] == 4
    assert main(args) == 2  # never overwritten without --force
    assert main(["evaluate", str(run), "--episodes", "1", "--out", str(tmp_path / "x")]) == 2
