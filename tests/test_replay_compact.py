"""Compact observation storage: uint8 for 0/1 columns, exact round trips, bytes counted."""

from __future__ import annotations

import numpy as np
import torch  # before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.buffers import AgentReplay, Batch, living_rows
from mfmarl.experiments.battle.env import make_battle_env

N, D = 4, 3
BINARY = np.array([True, False, True, True, False])


def _obs(rng: np.random.Generator) -> np.ndarray:
    """Binary columns hold 0/1, the others arbitrary float32 (tiny, huge, negative)."""
    real = rng.standard_normal((N, 5)).astype(np.float32) * np.float32(1e-30) ** rng.integers(
        0, 2, (N, 5)
    )
    bits = rng.integers(0, 2, (N, 5)).astype(np.float32)
    return np.where(BINARY, bits, real).astype(np.float32)


def _add(replay: AgentReplay, obs: np.ndarray, next_obs: np.ndarray) -> None:
    zeros = np.zeros(N, dtype=np.float32)
    mean = np.full((N, D), 1 / D, dtype=np.float32)
    replay.add(obs, np.zeros(N, int), mean, zeros, next_obs, mean, zeros, zeros + 1)


def test_compact_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    replay = AgentReplay(6, N, (5,), D, binary_columns=BINARY)
    stored = []
    for _ in range(6):
        obs, nxt = _obs(rng), _obs(rng)
        _add(replay, obs, nxt)
        stored.append((obs, nxt))
    assert replay.obs.compact and replay.obs.bits.dtype == np.uint8
    batch = replay._batch(np.arange(6), "cpu")
    for i, (obs, nxt) in enumerate(stored):
        assert np.array_equal(batch.obs[i].numpy(), obs)
        assert np.array_equal(batch.next_obs[i].numpy(), nxt)


def test_a_non_binary_value_switches_to_plain_storage_and_keeps_everything() -> None:
    rng = np.random.default_rng(1)
    replay = AgentReplay(3, N, (5,), D, binary_columns=BINARY)
    first = _obs(rng)
    _add(replay, first, first)
    odd = _obs(rng)
    odd[2, 0] = 0.5  # column 0 was declared binary
    _add(replay, odd, first)
    assert not replay.obs.compact and replay.next_obs.compact
    batch = replay._batch(np.arange(2), "cpu")
    assert np.array_equal(batch.obs[0].numpy(), first)
    assert np.array_equal(batch.obs[1].numpy(), odd)


def test_bytes_per_agent_transition_by_hand() -> None:
    # obs and next_obs: 3 uint8 + 2 float32 columns = 11 bytes each; actions int64 (8);
    # two mean actions 2 * 3 float32 (24); rewards, dones, alive float32 (12) -> 66
    compact = AgentReplay(5, N, (5,), D, binary_columns=BINARY)
    assert compact.bytes_per_agent_transition == 2 * 11 + 8 + 24 + 12
    plain = AgentReplay(5, N, (5,), D)
    assert plain.bytes_per_agent_transition == 2 * 20 + 8 + 24 + 12


def test_battle_inputs_round_trip_through_the_compact_replay() -> None:
    env = make_battle_env(map_size=20, max_steps=30)
    columns = env.groups[0].binary_mask()
    assert columns is not None
    # 3 of 5 view channels (walls and both armies' presence) on 13 x 13 cells, 10 id bits
    # and the 21-wide one-hot of the last action
    assert columns.sum() == 3 * 169 + 31 and columns.size == 5 * 169 + 32
    rng = np.random.default_rng(2)
    obs = env.reset(seed=3)
    n = env.groups[0].n_slots
    replay = AgentReplay(64, n, (columns.size,), 21, binary_columns=columns)
    kept = []
    done = False
    while not done:
        result = env.step([rng.integers(0, 21, n), rng.integers(0, 21, n)])
        for t in (0, 1):
            x, nxt = obs[t].obs, result.groups[t].next.obs
            zeros = np.zeros(n, dtype=np.float32)
            mean = np.zeros((n, 21), dtype=np.float32)
            replay.add(x, np.zeros(n, int), mean, zeros, nxt, mean, zeros, zeros)
            kept.append((x, nxt))
        obs = tuple(s.next for s in result.groups)
        done = result.done
    assert replay.obs.compact and replay.next_obs.compact
    batch = replay._batch(np.arange(len(kept)), "cpu")
    for i, (x, nxt) in enumerate(kept):
        assert np.array_equal(batch.obs[i].numpy(), x)
        assert np.array_equal(batch.next_obs[i].numpy(), nxt)


def test_living_rows_keeps_the_living_agent_transitions() -> None:
    alive = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    values = torch.arange(6.0).reshape(2, 3)
    batch = Batch(
        obs=values[..., None].repeat(1, 1, 2),
        actions=values.long(),
        mean_action=values[..., None],
        rewards=values,
        next_obs=values[..., None] + 10,
        next_mean_action=values[..., None],
        dones=values,
        alive=alive,
    )
    kept = living_rows(batch)
    assert kept.rewards.tolist() == [[0.0, 2.0, 5.0]]
    assert kept.obs.shape == (1, 3, 2) and kept.next_obs[0, :, 0].tolist() == [10, 12, 15]
    assert kept.alive.tolist() == [[1.0, 1.0, 1.0]]
    everyone = batch._replace(alive=torch.ones(2, 3))
    assert living_rows(everyone) is everyone


def test_passing_the_returned_next_obs_back_stores_the_same_arrays() -> None:
    """A stream of observations added as ``add(previous_return, ..., next_obs)`` is stored
    exactly as one added from the raw arrays, also when a non-binary value arrives midway
    (the stores switch to plain storage while an encoded observation is in flight)."""
    rng = np.random.default_rng(3)
    frames = [_obs(rng) for _ in range(7)]
    frames[4][1, 0] = 0.5  # a binary column holds 0.5 from frame 4 on
    raw = AgentReplay(8, N, (5,), D, binary_columns=BINARY)
    reused = AgentReplay(8, N, (5,), D, binary_columns=BINARY)
    zeros = np.zeros(N, dtype=np.float32)
    mean = np.full((N, D), 1 / D, dtype=np.float32)
    carried = None
    for obs, nxt in zip(frames[:-1], frames[1:], strict=True):
        _add(raw, obs, nxt)
        carried = reused.add(
            obs if carried is None else carried,
            np.zeros(N, int),
            mean,
            zeros,
            nxt,
            mean,
            zeros,
            zeros + 1,
        )
    assert not reused.obs.compact and not reused.next_obs.compact
    one, two = raw._batch(np.arange(6), "cpu"), reused._batch(np.arange(6), "cpu")
    for field in ("obs", "next_obs"):
        assert torch.equal(getattr(one, field), getattr(two, field))
    expected = torch.as_tensor(np.stack(frames[:-1]))
    assert torch.equal(two.obs, expected)
