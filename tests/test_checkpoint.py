"""Checkpoint round trips and the errors of bad checkpoints."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from mfmarl.algorithms import AlgorithmConfig, Learner, make_learner
from mfmarl.buffers import AgentReplay
from mfmarl.core import ConfigError
from mfmarl.training.checkpoint import (
    META_FILE,
    MODEL_FILE,
    learner_from_checkpoint,
    load_checkpoint,
    save_checkpoint,
)

OBS_DIM, D, N = 3, 4, 5


def _learner(algo: str, n_agents: int = N, hidden: tuple[int, ...] = (8,)) -> Learner:
    config = AlgorithmConfig(algo=algo, hidden=hidden, gamma=0.9)  # type: ignore[arg-type]
    return make_learner(config, OBS_DIM, D, n_agents, seed=1)


def _replay(rng: np.random.Generator) -> AgentReplay:
    replay = AgentReplay(8, N, (OBS_DIM,), D)
    for _ in range(8):
        mean = rng.dirichlet(np.ones(D), size=N).astype(np.float32)
        replay.add(
            rng.normal(size=(N, OBS_DIM)),
            rng.integers(0, D, N),
            mean,
            rng.normal(size=N),
            rng.normal(size=(N, OBS_DIM)),
            mean,
            np.zeros(N),
            np.ones(N),
        )
    return replay


def _train_a_little(learner: Learner) -> AgentReplay:
    rng = np.random.default_rng(0)
    replay = _replay(rng)
    for step in range(3):
        learner.update(replay.sample(4, rng), step)  # type: ignore[call-arg]
        learner.act(rng.normal(size=(N, OBS_DIM)), np.full((N, D), 1 / D), step)
    return replay


@pytest.mark.parametrize("algo", ["mfq", "mfac", "iql", "iac"])
def test_round_trip_gives_identical_tensors_and_actions(algo: str, tmp_path: Path) -> None:
    learner = _learner(algo)
    replay = _train_a_little(learner)
    save_checkpoint(tmp_path, learner, {"episode": 3})
    meta = json.loads((tmp_path / META_FILE).read_text())
    assert meta["algorithm"] == algo and meta["episode"] == 3
    assert meta["n_agents"] == N and meta["n_actions"] == D and meta["obs_dim"] == OBS_DIM

    restored = learner_from_checkpoint(tmp_path)
    assert type(restored) is type(learner)
    assert restored.config == learner.config
    original, loaded = learner.state_dict(), restored.state_dict()
    assert original.keys() == loaded.keys()
    for name in original:
        torch.testing.assert_close(loaded[name], original[name], rtol=0, atol=0)

    obs = np.random.default_rng(5).normal(size=(N, OBS_DIM))
    mean = np.full((N, D), 1 / D)
    for step in range(4):
        a1, p1 = learner.act(obs, mean, 10 + step)
        a2, p2 = restored.act(obs, mean, 10 + step)
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(p1, p2)

    # Optimizer state came back too: one more identical update keeps the tensors identical.
    batch = replay.sample(4, np.random.default_rng(9))
    learner.update(batch, 20)  # type: ignore[call-arg]
    restored.update(batch, 20)  # type: ignore[call-arg]
    for name, tensor in learner.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[name], tensor, rtol=1e-6, atol=1e-7)


def _saved(tmp_path: Path, algo: str = "mfac") -> Path:
    learner = _learner(algo)
    return save_checkpoint(tmp_path / "ckpt", learner)


def _one_line_error(match: str, call: Callable[[], object]) -> str:
    with pytest.raises(ConfigError, match=match) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_wrong_algorithm(tmp_path: Path) -> None:
    path = _saved(tmp_path, "mfac")
    _one_line_error("is mfac, expected mfq", lambda: load_checkpoint(path, expected_algo="mfq"))
    _one_line_error("is mfac, expected mfq", lambda: load_checkpoint(path, _learner("mfq")))


def test_wrong_shape_names_the_tensor_and_both_shapes(tmp_path: Path) -> None:
    path = _saved(tmp_path, "mfac")
    message = _one_line_error(
        r"tensor critic\S* has shape \(.*8\), the learner expects \(.*16\)",
        lambda: load_checkpoint(path, _learner("mfac", hidden=(16,))),
    )
    assert str(path) in message


def test_missing_files(tmp_path: Path) -> None:
    _one_line_error("no such directory", lambda: load_checkpoint(tmp_path / "nowhere"))
    path = _saved(tmp_path)
    (path / MODEL_FILE).unlink()
    _one_line_error(f"missing {MODEL_FILE}", lambda: load_checkpoint(path))
    path = _saved(tmp_path)
    (path / META_FILE).unlink()
    _one_line_error(f"missing {META_FILE}", lambda: load_checkpoint(path))


def test_corrupt_files(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / MODEL_FILE).write_bytes(b"\x00garbage" * 10)
    _one_line_error("corrupt", lambda: load_checkpoint(path))

    # A garbage tensor file whose hash is (re)recorded still fails to parse, in one line.
    meta = json.loads((path / META_FILE).read_text())
    import hashlib

    meta["model_sha256"] = hashlib.sha256((path / MODEL_FILE).read_bytes()).hexdigest()
    (path / META_FILE).write_text(json.dumps(meta))
    _one_line_error("corrupt", lambda: load_checkpoint(path))

    path = _saved(tmp_path)
    (path / META_FILE).write_text("{not json")
    _one_line_error("not valid JSON", lambda: load_checkpoint(path))


def test_no_pickle_files_are_written(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    assert sorted(p.name for p in path.iterdir()) == [META_FILE, MODEL_FILE]


@pytest.mark.parametrize(
    ("algo", "trained", "average"), [("mfq", "q", "q_average"), ("mfac", "actor", "actor_average")]
)
def test_policy_average_by_hand_and_through_a_checkpoint(
    algo: str, trained: str, average: str, tmp_path: Path
) -> None:
    """After one update φ̄ = (1 − τ)·φ₀ + τ·φ₁ (τ = 0.25); it is saved, and a learner that
    only plays from then on acts with it."""
    config = AlgorithmConfig(algo=algo, hidden=(8,), gamma=0.9, average_tau=0.25)  # type: ignore[arg-type]
    learner = make_learner(config, OBS_DIM, D, N, seed=1)
    before = {k: v.clone() for k, v in learner.modules()[trained].state_dict().items()}
    rng = np.random.default_rng(0)
    learner.update(_replay(rng).sample(4, rng), 0)  # type: ignore[call-arg]
    after = learner.modules()[trained].state_dict()
    averaged = learner.modules()[average].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    for name, start in before.items():
        torch.testing.assert_close(averaged[name], 0.75 * start + 0.25 * after[name])

    save_checkpoint(tmp_path, learner)
    restored = learner_from_checkpoint(tmp_path)
    assert restored.use_average()
    acting = restored.acting.module.state_dict()
    for name, value in averaged.items():
        torch.testing.assert_close(acting[name], value, rtol=0, atol=0)
    assert restored.policy.network is restored.acting.module  # the average now acts
    # a trained player's policy is the average too, whatever the learner acts with
    evaluation = learner.evaluation_policy().network.state_dict()
    for name, value in averaged.items():
        torch.testing.assert_close(evaluation[name], value, rtol=0, atol=0)
    assert not _learner(algo).use_average()  # no average kept: nothing changes


@pytest.mark.parametrize(
    ("algo", "trained", "average"), [("mfq", "q", "q_average"), ("mfac", "actor", "actor_average")]
)
def test_a_slow_average_moves_every_kth_update_and_resumes_in_step(
    algo: str, trained: str, average: str, tmp_path: Path
) -> None:
    """τ = 1/640 moves the average after updates 10 and 20 only, by r = 1 − (1 − τ)^10:
    φ̄ = φ₀ + r(φ₁₀ − φ₀), then φ̄ + r(φ₂₀ − φ̄) (by hand). A learner saved after update 15
    and resumed moves it at update 20 too: the same average as the uninterrupted one."""
    tau = 1 / 640
    config = AlgorithmConfig(algo=algo, hidden=(8,), gamma=0.9, average_tau=tau)  # type: ignore[arg-type]
    learner = make_learner(config, OBS_DIM, D, N, seed=1)
    rng = np.random.default_rng(0)
    replay = _replay(rng)
    batches = [replay.sample(4, rng) for _ in range(25)]  # type: ignore[call-arg]
    network = learner.modules()[trained]
    seen = {0: {k: v.clone() for k, v in network.state_dict().items()}}
    for i, batch in enumerate(batches[:15], start=1):
        learner.update(batch, i)
        seen[i] = {k: v.clone() for k, v in network.state_dict().items()}
        if i == 15:
            save_checkpoint(tmp_path, learner)
    resumed = learner_from_checkpoint(tmp_path)
    for i, batch in enumerate(batches[15:], start=16):
        learner.update(batch, i)
        resumed.update(batch, i)
        seen[i] = {k: v.clone() for k, v in network.state_dict().items()}
        if i == 19:  # nothing moved since update 10
            after_10 = {k: v.clone() for k, v in learner.modules()[average].state_dict().items()}
    r = 1 - (1 - tau) ** 10
    for name, start in seen[0].items():
        at_10 = start + r * (seen[10][name] - start)
        torch.testing.assert_close(after_10[name], at_10)
        at_20 = at_10 + r * (seen[20][name] - at_10)
        torch.testing.assert_close(learner.modules()[average].state_dict()[name], at_20)
        torch.testing.assert_close(
            resumed.modules()[average].state_dict()[name],
            learner.modules()[average].state_dict()[name],
            rtol=0,
            atol=0,
        )


@pytest.mark.parametrize(
    ("algo", "trained", "acting"), [("mfq", "q", "q_act"), ("mfac", "actor", "actor_act")]
)
def test_act_tau_one_acts_with_the_trained_network(
    algo: str, trained: str, acting: str, tmp_path: Path
) -> None:
    """act_tau = 1: the learner acts with the trained network itself (no copy per update)
    and the checkpoint's acting copy equals it; act_tau = 0.5: the copy acts and moves half
    way, by hand."""
    config = AlgorithmConfig(algo=algo, hidden=(8,), gamma=0.9)  # type: ignore[arg-type]
    learner = make_learner(config, OBS_DIM, D, N, seed=1)
    rng = np.random.default_rng(0)
    learner.update(_replay(rng).sample(4, rng), 0)  # type: ignore[call-arg]
    obs = rng.random((N, OBS_DIM), dtype=np.float32)
    mean = rng.dirichlet(np.ones(D), N).astype(np.float32)
    with torch.no_grad():
        net = learner.modules()[trained]
        args = (torch.as_tensor(obs)[None], torch.as_tensor(mean)[None])
        scores = net(*args) if algo == "mfq" else net(args[0])
        expected = learner.to_probs(scores, 0)[0].numpy()
    np.testing.assert_allclose(learner.act(obs, mean, 0)[1], expected, rtol=1e-6, atol=1e-7)

    save_checkpoint(tmp_path, learner)
    restored = learner_from_checkpoint(tmp_path).modules()[acting].state_dict()
    for name, value in learner.modules()[trained].state_dict().items():
        torch.testing.assert_close(restored[name], value, rtol=0, atol=0)

    slow = make_learner(dataclasses.replace(config, act_tau=0.5), OBS_DIM, D, N, seed=1)
    before = {k: v.clone() for k, v in slow.modules()[trained].state_dict().items()}
    slow.update(_replay(np.random.default_rng(0)).sample(4, rng), 0)  # type: ignore[call-arg]
    after, copy = slow.modules()[trained].state_dict(), slow.modules()[acting].state_dict()
    for name, start in before.items():
        torch.testing.assert_close(copy[name], 0.5 * start + 0.5 * after[name])


def _forge(path: Path, edit_meta: Callable[[dict], None] | None = None, tensors=None) -> None:
    """Rewrite a checkpoint with edited metadata and/or tensors and a matching hash, the
    way a hostile file would look."""
    import hashlib

    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    meta = json.loads((path / META_FILE).read_text())
    if tensors is not None:
        current = st_load((path / MODEL_FILE).read_bytes())
        tensors(current)
        blob = st_save(current)
        (path / MODEL_FILE).write_bytes(blob)
        meta["tensors"] = {k: list(v.shape) for k, v in current.items()}
    if edit_meta is not None:
        edit_meta(meta)
    meta["model_sha256"] = hashlib.sha256((path / MODEL_FILE).read_bytes()).hexdigest()
    (path / META_FILE).write_text(json.dumps(meta))


def _set(key: str, value: object) -> Callable[[dict], None]:
    return lambda meta: meta.__setitem__(key, value)


def _nan_weights(tensors: dict) -> None:
    name = next(k for k in tensors if "/" not in k)
    tensors[name] = torch.full_like(tensors[name], float("nan"))


def _optimizer_index_not_an_int(tensors: dict) -> None:
    name = next(k for k in tensors if k.startswith("optimizer/"))
    optimizer, _, field = name.split("/")[1:]
    tensors[f"optimizer/{optimizer}/abc/{field}"] = tensors.pop(name)


def _bad_generator(tensors: dict) -> None:
    tensors["learner/generator"] = torch.zeros(7, dtype=torch.uint8)


def _bad_lr(meta: dict) -> None:
    for groups in meta["optimizer_param_groups"].values():
        groups[0]["lr"] = "fast"


FORGED = {
    "tensors is a list": (_set("tensors", []), None, "tensors must be an object"),
    "deep JSON": (None, None, "not valid JSON"),
    "view_shape of one side": (_set("view_shape", [13]), None, "view_shape"),
    "obs_dim 1e12": (_set("obs_dim", 10**12), None, r"obs_dim=1000000000000 must be in"),
    "n_agents a string": (_set("n_agents", "5"), None, "n_agents='5' must be an integer"),
    "format 2": (_set("format_version", 2), None, "format_version must be 1"),
    "NaN weights": (None, _nan_weights, "NaN or infinite"),
    "optimizer index not an int": (None, _optimizer_index_not_an_int, "bad optimizer tensor name"),
    "generator of the wrong size": (None, _bad_generator, "bad generator state"),
    "optimizer lr a string": (_bad_lr, None, "bad optimizer settings"),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_forged_checkpoints_with_valid_hashes_fail_in_one_line(case: str, tmp_path: Path) -> None:
    learner = _learner("mfq")
    _train_a_little(learner)
    path = save_checkpoint(tmp_path / "ckpt", learner)
    edit_meta, edit_tensors, match = FORGED[case]
    if case == "deep JSON":
        (path / META_FILE).write_text("[" * 200_000 + "]" * 200_000)
    else:
        _forge(path, edit_meta, edit_tensors)
    _one_line_error(match, lambda: learner_from_checkpoint(path))
    _one_line_error(match, lambda: load_checkpoint(path, _learner("mfq")))


def test_counters_are_restored_only_by_name_and_type(tmp_path: Path) -> None:
    learner = _learner("mfq")
    _train_a_little(learner)
    path = save_checkpoint(tmp_path / "ckpt", learner)
    _forge(path, _set("learner_state", {"updates": -5, "n_agents": 10**9, "env_steps": 7}))
    loaded = learner_from_checkpoint(path)
    assert loaded.n_agents == N
    assert loaded.updates == 0  # the forged negative count is ignored
    assert loaded.env_steps == 7
