"""``mfmarl sweep battle``: the grid, values checked by type, and a failing run reported while
the others are written."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from mfmarl.cli import main
from mfmarl.core.errors import ConfigError
from mfmarl.experiments.battle.runs import parse_assignments, scaled_preset

TINY = ["--set", "episodes=1", "--set", "max_steps=6", "--set", "map_size=16"]


def test_assignments_are_typed_and_deduplicated() -> None:
    grid = parse_assignments(
        ["lr=1e-4,3e-4,0.0001", "episodes=5", "dueling=true,no", "team_size=none,4"]
    )
    assert grid == {
        "lr": (1e-4, 3e-4),
        "episodes": (5,),
        "dueling": (True, False),
        "team_size": (None, 4),
    }
    assert parse_assignments(["neighbourhood=radius", "value_target=max"]) == {
        "neighbourhood": ("radius",),
        "value_target": ("max",),
    }


def test_a_shorter_budget_rescales_the_exploration_schedules() -> None:
    _, algo, train = scaled_preset("mfq", "quick", {"episodes": 10, "max_steps": 20})
    # the preset's schedules count episodes: over the first half of them
    assert algo.schedule_unit == "episodes"
    assert train.episodes == 10 and algo.epsilon_steps == 5 and algo.beta_steps == 5
    _, algo, _ = scaled_preset("mfq", "quick", {"episodes": 10, "epsilon_steps": 7})
    assert algo.epsilon_steps == 7 and algo.beta_steps == 5
    steps = {"episodes": 10, "max_steps": 20, "schedule_unit": "steps"}
    _, algo, _ = scaled_preset("mfq", "quick", steps)
    assert algo.epsilon_steps == 100 and algo.beta_steps == 100  # half of 10 × 20 steps
    _, algo, _ = scaled_preset("mfq", "quick", {"schedule_unit": "steps"})
    assert algo.epsilon_steps == 300 * 200 // 2


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lr=abc", "'abc' is not a number"),
        ("episodes=1.5", "'1.5' is not an integer"),
        ("dueling=maybe", "not a boolean"),
        ("value_target=best", "not one of"),
        ("hidden=64", "cannot be set"),
        ("nonsense=1", "no such setting"),
        ("seed=1", "--seeds"),
        ("lr", "expected KEY=VALUE"),
        ("lr=-1", "lr=-1.0 must be in (0, 1e6]"),
    ],
)
def test_wrong_values_are_one_line_errors(
    tmp_path: Path, setting: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    out.mkdir()
    (out / "results.json").write_text("{}")  # an earlier result that must survive
    args = ["sweep", "battle", "--set", setting, "--out", str(out), "--force", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfmarl: error:") and "\n" not in err and message in err, err
    assert (out / "results.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_failed_run_is_reported_and_the_rest_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    args = ["sweep", "battle", "--algo", "mfq", "--seeds", "0", "--set", "device=cpu,cuda"]
    code = main([*args, *TINY, "--eval-rounds", "2", "--workers", "1", "--out", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert "mfq_device=cuda_s0 failed: ConfigError" in err and "Traceback" not in err
    results = json.loads((out / "results.json").read_text())
    runs = {r["name"]: r for r in results["runs"]}
    assert list(runs) == ["mfq_device=cpu_s0", "mfq_device=cuda_s0"]
    ok, failed = runs["mfq_device=cpu_s0"], runs["mfq_device=cuda_s0"]
    assert ok["status"] == "ok" and ok["params"] == {"device": "cpu"}
    assert ok["summary"]["episodes"] == 1 and 0 <= ok["vs_random"] <= 1
    assert failed["status"] == "failed" and "no CUDA GPU" in failed["error"]
    assert results["failed"] == 1 and results["grid"]["episodes"] == [1]
    assert (
        out / "runs" / "mfq_device=cpu_s0" / "checkpoint" / "red" / "model.safetensors"
    ).is_file()
    assert (out / "runs" / "mfq_device=cpu_s0" / "eval.json").is_file()
    failures = json.loads((out / "failures.json").read_text())
    assert failures[0]["task"] == "mfq_device=cuda_s0" and "Traceback" in failures[0]["traceback"]
    assert "failed" in (out / "report.md").read_text()


def test_parse_rejects_a_key_given_twice() -> None:
    with pytest.raises(ConfigError, match="given twice"):
        parse_assignments(["lr=1", "lr=2"])


def test_the_medium_scale_is_the_paper_battle_with_a_shorter_budget() -> None:
    from mfmarl.experiments.battle.plan import DEFAULT_ROUNDS, BattleExperiment
    from mfmarl.experiments.battle.plan import expected_seconds as cost

    battle, algo, train = scaled_preset("mfac", "medium")
    paper_battle, paper_algo, _ = scaled_preset("mfac", "paper")
    assert battle == paper_battle and (battle.map_size, battle.max_steps) == (40, 400)
    assert train.episodes == 400 and algo.epsilon_steps == algo.beta_steps == 200
    assert algo == dataclasses.replace(paper_algo, epsilon_steps=200, beta_steps=200)
    # two seeds and the tournament at its default rounds fit the 2.5 hours on 2 cores
    experiment = BattleExperiment(scale="medium", seeds=2, rounds=DEFAULT_ROUNDS["medium"])
    assert cost(experiment, workers=2)[1] <= 2.5 * 3600
