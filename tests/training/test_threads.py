"""``threads = 0`` (auto): the thread count is picked from probe times, by hand-set times."""

from __future__ import annotations

import pytest
import torch

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.algorithms.base import make_learner
from mfmarl.core.errors import ConfigError
from mfmarl.training import threads as threads_module
from mfmarl.training.threads import candidate_counts, pick_threads, resolve_threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_pick_threads_takes_a_larger_count_only_when_ten_percent_faster() -> None:
    assert pick_threads({1: 10.0, 2: 6.0, 4: 5.9}) == 2  # 4 is 1.7% faster than 2
    assert pick_threads({1: 10.0, 2: 9.5}) == 1  # 5% faster: not enough
    assert pick_threads({1: 10.0, 2: 9.0}) == 2  # exactly 10%
    assert pick_threads({1: 10.0, 2: 12.0, 4: 5.0}) == 4  # compared with the choice so far
    assert pick_threads({1: 3.0, 2: 6.0, 4: 9.0}) == 1


def test_candidate_counts() -> None:
    assert candidate_counts(1) == [1]
    assert candidate_counts(2) == [1, 2]
    assert candidate_counts(6) == [1, 2, 4, 6]
    assert candidate_counts(64) == [1, 2, 4, 8]


def test_an_explicit_count_is_kept_and_a_bad_one_refused() -> None:
    choice = resolve_threads(3)
    assert choice.threads == 3 and torch.get_num_threads() == 3 and not choice.seconds
    with pytest.raises(ConfigError, match="threads=-1"):
        resolve_threads(-1)


def test_auto_without_learners_or_on_one_core_is_one() -> None:
    assert resolve_threads(0).threads == 1
    learner = make_learner(AlgorithmConfig(hidden=(8,)), 3, 2, 4)
    assert resolve_threads(0, [learner], [4], 64, cores=1).threads == 1


def test_auto_sets_torch_to_the_count_with_the_best_probe(monkeypatch) -> None:
    timed = {1: 0.010, 2: 0.004, 4: 0.0039}

    def fake_probe(learners, slots, batch_size, repeats=3):
        return timed[torch.get_num_threads()]

    monkeypatch.setattr(threads_module, "probe_seconds", fake_probe)
    learner = make_learner(AlgorithmConfig(hidden=(8,)), 3, 2, 4)
    choice = resolve_threads(0, [learner], [4], 64, cores=4)
    assert choice.threads == 2 and torch.get_num_threads() == 2
    assert dict(choice.seconds) == timed
    assert choice.describe().startswith("2 (auto")


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_the_probe_runs_the_learners_networks_and_changes_nothing(algo: str) -> None:
    learner = make_learner(AlgorithmConfig(algo=algo, hidden=(8,)), 5, 3, 6)
    before = {k: v.clone() for k, v in learner.acting_network().state_dict().items()}
    seconds = threads_module.probe_seconds([learner], [6], 64, repeats=1)
    assert 0.0 < seconds < 5.0
    after = learner.acting_network().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in learner.acting_network().parameters())
