"""The fast MAgent2 path against every MAgent2 environment's own PettingZoo API, step for
step; slots, masks, action layouts and mirroring by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.envs.magent2 import ID_BITS, MAgent2Env, make_magent2_parallel_env
from mfmarl.envs.magent2_engine import action_layout, mirror_actions
from mfmarl.experiments.battle.env import ATTACKS, MOVES, BattleConfig, make_battle_env

SMALL = {
    "battle": {"map_size": 16, "max_cycles": 25},
    "battlefield": {"map_size": 46, "max_cycles": 25},
    "gather": {"max_cycles": 6},
    "adversarial_pursuit": {"map_size": 20, "max_cycles": 25},
    "tiger_deer": {"map_size": 20, "max_cycles": 25},
    "combined_arms": {"map_size": 20, "max_cycles": 25},
}


def _random_actions(env: MAgent2Env, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.integers(0, g.n_actions, size=g.n_slots) for g in env.groups]


@pytest.mark.parametrize("name", list(SMALL))
def test_fast_path_matches_pettingzoo_step_by_step(name: str) -> None:
    pz = make_magent2_parallel_env(name, **SMALL[name])
    env = MAgent2Env(make_magent2_parallel_env(name, **SMALL[name]))
    pz_obs, _ = pz.reset(seed=5)
    # magent2 0.3.4 counts the groups before placing them in reset, so its first step would
    # drop every action; set the counts as its own step does afterwards
    pz.team_sizes = [pz.env.get_num(h) for h in pz.handles]
    obs = env.reset(seed=5)
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(SMALL[name]["max_cycles"]):
        for g, spec in enumerate(env.groups):
            size = int(np.prod(spec.view_shape))
            for i in range(spec.n_slots):
                agent = f"{spec.name}_{i}"
                if agent in pz_obs:
                    np.testing.assert_array_equal(obs[g].obs[i, :size], pz_obs[agent].reshape(-1))
                    compared += 1
        actions = _random_actions(env, rng)
        pz_actions = {
            a: int(actions[env.names.index(a.rsplit("_", 1)[0])][int(a.rsplit("_", 1)[1])])
            for a in pz.agents
        }
        pz_obs, rewards, terms, truncs, _ = pz.step(pz_actions)
        step = env.step(actions)
        for g, spec in enumerate(env.groups):
            for i in range(spec.n_slots):
                agent = f"{spec.name}_{i}"
                if agent in rewards:
                    assert step.groups[g].rewards[i] == pytest.approx(rewards[agent]), agent
                    assert bool(step.groups[g].terminated[i]) == terms[agent], agent
                    if not terms[agent]:  # PettingZoo also flags the dead at the time limit
                        assert bool(step.groups[g].truncated[i]) == truncs[agent], agent
        obs = tuple(s.next for s in step.groups)
        if step.done:
            assert not pz.agents or all(truncs.values())
            break
    assert compared > 0 and env.steps > 0


def test_dead_slots_are_masked_and_a_wipe_out_ends_the_battle() -> None:
    env = make_battle_env(map_size=20, max_steps=150)
    obs = env.reset(seed=0)
    attack = env.scripted_player("attack-nearest", 0)
    rng = np.random.default_rng(0)
    n = env.groups[1].n_slots
    dead_before = np.zeros(n, dtype=bool)
    done = False
    while not done:
        step = env.step([attack(obs, rng), np.full(n, 6)])  # blue stays put
        blue = step.groups[1]
        # slots dead before this step carry nothing; slots that died now keep final data
        assert not blue.next.obs[dead_before].any() and not blue.rewards[dead_before].any()
        assert (blue.next.positions[dead_before] == -1).all()
        died = blue.terminated & ~(step.done & blue.next.alive)
        if not step.done:
            assert np.array_equal(blue.next.alive, ~dead_before & ~blue.terminated)
        dead_before |= died
        obs = tuple(s.next for s in step.groups)
        done = step.done
    info = env.episode_info()
    assert info["blue/survivors"] == 0 and info["red/kills"] == n == info["blue/deaths"]
    with pytest.raises(RuntimeError):
        env.step([np.zeros(n, int), np.zeros(n, int)])


def test_bad_actions_are_rejected() -> None:
    env = make_battle_env(map_size=20)
    env.reset(seed=0)
    ok = np.full(env.groups[0].n_slots, 6)
    for bad in (-1, 21, 2**32):
        wrong = ok.copy()
        wrong[3] = bad
        with pytest.raises(ValueError):
            env.step([ok, wrong])
    with pytest.raises(ValueError):
        env.step([ok, ok[:-1]])


def test_action_layouts_read_from_the_engine() -> None:
    env = make_battle_env(map_size=20)
    layout = env.layouts[0]
    np.testing.assert_array_equal(layout.moves, MOVES)  # the hand table of the engine facts
    np.testing.assert_array_equal(layout.attacks, ATTACKS)
    assert layout.attack_base == 13 and layout.stay == 6
    combined = MAgent2Env(make_magent2_parallel_env("combined_arms", map_size=20))
    melee = action_layout(combined.engine, combined.handles[0])
    # melee: speed 1 (5 moves: up, left, stay, right, down), 4 orthogonal attacks
    np.testing.assert_array_equal(melee.moves, [(0, -1), (-1, 0), (0, 0), (1, 0), (0, 1)])
    assert melee.stay == 2 and sorted(map(tuple, melee.attacks)) == [
        (-1, 0),
        (0, -1),
        (0, 1),
        (1, 0),
    ]


def test_mirror_actions_negate_dx_and_are_an_involution() -> None:
    mirror = mirror_actions(make_battle_env(map_size=20).layouts[0])
    # Hand-checked: move (0,-2) stays, (-1,-1) <-> (1,-1), (-2,0) <-> (2,0), stay stays;
    # attack (-1,-1) (13) <-> (1,-1) (15), (-1,0) (16) <-> (1,0) (17).
    assert mirror[0] == 0 and mirror[1] == 3 and mirror[4] == 8 and mirror[6] == 6
    assert mirror[13] == 15 and mirror[16] == 17
    assert np.array_equal(mirror[mirror], np.arange(21))


def test_mirrored_group_sees_the_world_flipped() -> None:
    """Red moving right and blue moving left are mirror images: blue's mirrored features
    record the action red took; its view is the engine's with the columns reversed."""
    env = make_battle_env(map_size=20)
    env.reset(0)
    n = env.groups[0].n_slots
    right = 7  # (1, 0); in blue's mirrored frame that is (-1, 0) for the engine: left
    step = env.step([np.full(n, right), np.full(n, right)])
    raw_blue = env.raw[1]
    blue = step.groups[1].next
    size = 13 * 13 * 5
    alive = blue.alive
    view = blue.obs[:, :size].reshape(n, 13, 13, 5)
    np.testing.assert_array_equal(view, raw_blue.view[:, :, ::-1, :])
    features = blue.obs[:, size:]
    assert not features[:, :ID_BITS].any()
    assert np.all(features[alive, ID_BITS + right] == 1.0)
    assert np.all(raw_blue.features[alive, ID_BITS + 5] == 1.0)  # the engine saw (-1, 0)
    red = step.groups[0].next
    np.testing.assert_array_equal(red.obs[:, size + ID_BITS :], env.raw[0].features[:, ID_BITS:])
    assert not red.obs[:, size : size + ID_BITS].any()  # ids would tell the sides apart
    assert env.raw[0].features[:, :ID_BITS].any()  # (the engine has them)


@pytest.mark.parametrize("minimap", [False, True])
def test_mirrored_positions_give_both_sides_the_same_inputs(minimap: bool) -> None:
    """Armies placed as mirror images of each other see exactly the same learner inputs,
    before and after a step in which each makes the mirror of the other's moves: one
    shared network cannot tell which side it plays (in minimap mode too, whose bins are
    not mirror-symmetric: 3 and 16 fall in bins 1 and 8 of 13 on a 20 map)."""
    env = make_battle_env(map_size=20, minimap=minimap)
    env.reset(0)
    engine, (red, blue) = env.engine, env.handles
    engine.reset()
    cells = [(3, 5), (4, 9), (6, 12), (8, 8)]
    engine.add_agents(red, method="custom", pos=[(x, y, 0) for x, y in cells])
    engine.add_agents(blue, method="custom", pos=[(19 - x, y, 0) for x, y in cells])
    env._slots = [np.arange(len(cells)), np.arange(len(cells))]
    env._raw = [env._read(g)[0] for g in (0, 1)]
    obs = [env._group_obs(g, raw) for g, raw in enumerate(env._raw)]
    np.testing.assert_array_equal(obs[0].obs, obs[1].obs)
    n = env.groups[0].n_slots
    moves = np.resize([7, 2, 9, 11], n)  # each side in its own frame: mirror images
    step = env.step([moves, moves])
    np.testing.assert_array_equal(step.groups[0].next.obs, step.groups[1].next.obs)
    np.testing.assert_array_equal(step.groups[0].rewards, step.groups[1].rewards)


def test_the_recomputed_minimap_is_the_engines_in_the_engines_frame() -> None:
    """Red is not mirrored: its recomputed minimap channels and position features equal what
    the engine wrote, agent for agent, through a fight with deaths (the engine's own numbers,
    not this package's)."""
    env = make_battle_env(map_size=20, minimap=True)
    obs = env.reset(seed=2)
    players = [env.scripted_player("attack-nearest", g) for g in (0, 1)]
    rng = np.random.default_rng(2)
    size, checked = 13 * 13 * 7, 0
    for _ in range(40):
        raw = env.raw[0]
        held = raw.positions[:, 0] >= 0
        both = np.array([env.raw[g].positions[:, 0] >= 0 for g in (0, 1)])
        if both.any(axis=1).all():  # the engine's minimap of an empty group is 0/0
            mine = obs[0].obs[held, :size].reshape(-1, 13, 13, 7)
            np.testing.assert_array_equal(mine[..., [3, 6]], raw.view[held][..., [3, 6]])
            np.testing.assert_array_equal(obs[0].obs[held, -2:], raw.features[held, -2:])
            checked += int(held.sum())
        step = env.step([p(obs, rng) for p in players])
        obs = tuple(s.next for s in step.groups)
        if step.done:
            break
    assert checked > 100 and sum(env.deaths) > 0


def test_positions_match_the_engine_getters() -> None:
    env = make_battle_env(map_size=20, max_steps=200)
    obs = env.reset(seed=1)
    players = [env.scripted_player("attack-nearest", g) for g in (0, 1)]
    rng = np.random.default_rng(1)
    deaths = 0
    while deaths < 6:
        step = env.step([p(obs, rng) for p in players])
        obs = tuple(s.next for s in step.groups)
        deaths = int(sum(env.deaths))
        for g, group in enumerate(obs):
            living = np.flatnonzero(env.raw[g].alive)
            # after clear_dead the engine holds exactly the living agents, in slot order
            np.testing.assert_array_equal(
                group.positions[living], env.engine.get_pos(env.handles[g])
            )
        if step.done:
            break
    assert deaths > 0


def test_render_rgb() -> None:
    env = make_battle_env(map_size=20)
    env.reset(seed=0)
    image = env.render(cell=4)
    n = env.groups[0].n_slots
    assert image.shape == (80, 80, 3) and image.dtype == np.uint8
    assert (image != 255).any(axis=-1).sum() == 2 * n * 16


def test_battle_env_follows_its_config() -> None:
    env = make_battle_env(map_size=24, team_size=5, kill_reward=1.0, step_reward=-1.0)
    obs = env.reset(seed=0)
    assert [g.n_slots for g in env.groups] == [5, 5] and obs[0].alive.all()
    assert env.groups[1].view_shape == (13, 13, 5) and env.groups[1].obs_dim == 13 * 13 * 5 + 32
    step = env.step([np.full(5, 6), np.full(5, 6)])
    np.testing.assert_allclose(step.groups[0].rewards, -1.0)
    assert BattleConfig(map_size=24).n_agents == 16
