"""The Battle experiment through the generic PettingZoo adapter gives its learners exactly
what the fast MAgent2 path gives them, step for step, and trains the same."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.envs.pettingzoo import ParallelEnvAdapter
from mfmarl.experiments.battle.env import BattleConfig, battle_source, make_battle_env


@pytest.mark.parametrize("seed", [0, 3])
def test_generic_path_matches_the_fast_path_step_by_step(seed: int) -> None:
    config = BattleConfig(map_size=20, max_steps=80)
    fast = make_battle_env(**dataclasses.asdict(config))
    generic = battle_source(config, fast=False).build()
    assert isinstance(generic, ParallelEnvAdapter)
    assert [g.view_shape for g in generic.groups] == [g.view_shape for g in fast.groups]
    assert [g.obs_dim for g in generic.groups] == [g.obs_dim for g in fast.groups]
    obs, other = fast.reset(seed), generic.reset(seed)
    # both armies attack (each in its own frame), with some random moves: agents die
    players = [fast.scripted_player("attack-nearest", g) for g in (0, 1)]
    rng = np.random.default_rng(seed)
    deaths = steps = 0
    done = False
    while not done:
        for mine, theirs in zip(obs, other):
            np.testing.assert_array_equal(mine.alive, theirs.alive)
            np.testing.assert_array_equal(mine.obs[mine.alive], theirs.obs[theirs.alive])
        actions = [p(obs, rng) for p in players]
        for a in actions:
            random = rng.random(a.shape) < 0.3
            a[random] = rng.integers(0, 21, size=int(random.sum()))
        step, step2 = fast.step(actions), generic.step(actions)
        for g in (0, 1):
            mine, theirs = step.groups[g], step2.groups[g]
            np.testing.assert_array_equal(mine.rewards, theirs.rewards)
            np.testing.assert_array_equal(mine.terminated, theirs.terminated)
            np.testing.assert_array_equal(mine.truncated, theirs.truncated)
            np.testing.assert_array_equal(mine.next.alive, theirs.next.alive)
            ended = mine.terminated | mine.truncated
            # agents that are alive or ended this step carry the same final observation
            keep = mine.next.alive | ended
            np.testing.assert_array_equal(mine.next.obs[keep], theirs.next.obs[keep])
        assert step.done == step2.done
        obs, other = [s.next for s in step.groups], [s.next for s in step2.groups]
        deaths = int(sum(fast.deaths))
        steps += 1
        done = step.done
    assert deaths > 0 and steps > 1
    assert generic.episode_info() == fast.episode_info()  # deaths, survivors, kills


def test_train_battle_no_fast_trains_as_the_fast_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two short self-play episodes: the same losses, returns and kills either way."""
    from mfmarl.cli import main

    rows = {}
    for flag in ("fast", "generic"):
        out = tmp_path / flag
        args = ["train", "battle", "--out", str(out), "--map-size", "20", "--max-steps", "30"]
        args += ["--episodes", "2", "--learning-starts", "48", "--no-progress"]
        assert main(args + (["--no-fast"] if flag == "generic" else [])) == 0
        lines = (out / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        rows[flag] = [dict(zip(header, line.split(","))) for line in lines[1:]]
        config = json.loads((out / "config.json").read_text())
        factory = config["env"]["factory"]
        assert factory.endswith("make_battle_env" if flag == "fast" else "parallel_env")
    skip = ("time/", "env/")
    for fast, generic in zip(rows["fast"], rows["generic"]):
        assert {k: v for k, v in fast.items() if not k.startswith(skip)} == {
            k: v for k, v in generic.items() if not k.startswith(skip)
        }
        for key in ("env/red/kills", "env/blue/kills", "env/red/deaths"):
            assert fast[key] == generic[key]
    # its matches are played on the fast path, which has the scripted players
    match = tmp_path / "match"
    play = ["battle", str(tmp_path / "generic"), "attack-nearest", "--rounds", "1"]
    capsys.readouterr()
    assert main([*play, "--out", str(match), "--no-progress"]) == 0
    assert "red (12) v blue (12), map_size=20" in capsys.readouterr().out


def test_the_mirrored_battle_passes_the_pettingzoo_api_test() -> None:
    from pettingzoo.test import parallel_api_test

    from mfmarl.experiments.battle.env import make_mirrored_battle_parallel_env

    parallel_api_test(make_mirrored_battle_parallel_env(map_size=16, max_steps=30), 30)


def test_a_dict_observation_needs_a_view_and_features() -> None:
    import gymnasium

    from mfmarl.core.errors import ConfigError

    class Odd:
        possible_agents = ["a_0"]
        agents = ["a_0"]

        def observation_space(self, agent: str) -> gymnasium.spaces.Dict:
            box = gymnasium.spaces.Box(0.0, 1.0, (3,), np.float32)
            return gymnasium.spaces.Dict({"image": box, "features": box})

        def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
            return gymnasium.spaces.Discrete(2)

        def step(self, actions: dict) -> None: ...

    with pytest.raises(ConfigError, match="3-D 'view' and a 1-D 'features'"):
        ParallelEnvAdapter(Odd())
