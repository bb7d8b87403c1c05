"""The Battle report's verdict on each of the paper's pairwise claims, and the training table's
throughput, from hand-set numbers."""

from __future__ import annotations

import math

import pytest

from mfmarl.experiments.battle.report import pair_verdict
from mfmarl.training.run import RunSummary


@pytest.mark.parametrize(
    ("diff", "resolved", "verdict"),
    [
        (0.72, True, "holds"),
        (-0.80, True, "reversed"),
        (0.15, False, "same direction, not resolved"),
        (-0.10, False, "opposite direction, not resolved"),
        (0.0, False, "equal ratings, not resolved"),
    ],
)
def test_a_claim_holds_only_when_its_interval_excludes_zero(
    diff: float, resolved: bool, verdict: str
) -> None:
    assert pair_verdict(diff, resolved) == verdict


def _summary(**kw: object) -> RunSummary:
    fields = {"run_dir": "r", "env": "battle", "roles": {}, "n_agents": 2, "seed": 0}
    fields |= {"episodes": 4, "env_steps": 600, "seconds": 120.0}
    return RunSummary(**(fields | kw))  # type: ignore[arg-type]


def test_env_steps_per_second_of_a_run_and_none_for_a_resumed_one() -> None:
    assert _summary().env_steps_per_second == 5.0
    assert _summary().to_dict()["env_steps_per_second"] == 5.0
    assert math.isnan(_summary(resumed_from=2).env_steps_per_second)
