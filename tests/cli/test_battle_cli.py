"""``mfmarl battle`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mfmarl.cli import main


def test_battle_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b"
    args = ["battle", "attack-nearest", "random", "--rounds", "3", "--map-size", "20"]
    assert main([*args, "--seed", "5", "--out", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results) == [
        "players",
        "rounds",
        "wins",
        "ties",
        "win_rate",
        "win_rate_ci95",
        "kills",
        "survivors",
        "mean_reward",
    ]
    assert results["players"] == ["attack-nearest", "random"] and results["rounds"] == 3
    assert sum(results["wins"]) + results["ties"] == 3
    assert results["win_rate"][0] == results["wins"][0] / 3
    lo, hi = results["win_rate_ci95"][0]
    assert lo <= results["win_rate"][0] <= hi
    assert all(len(results[k]) == 2 for k in ("kills", "survivors", "mean_reward"))
    assert "results.json" in capsys.readouterr().out
    # an existing output needs --force
    assert main([*args, "--out", str(out), "--no-progress"]) == 2
    assert main([*args, "--out", str(out), "--no-progress", "--force"]) == 0


@pytest.mark.parametrize(
    "bad",
    [
        ["nobody", "random"],
        ["random", "attack-nearest", "--rounds", "0"],
        ["random", "random", "--rounds", "-3"],
        ["random", "random", "--map-size", "8"],
        ["MISSING_DIR", "random"],
    ],
)
def test_battle_bad_input(
    tmp_path: Path, bad: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [str(tmp_path / "ckpt") if b == "MISSING_DIR" else b for b in bad]
    assert main(["battle", *bad, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfmarl: error:") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_directory_without_checkpoint_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["battle", str(tmp_path), "random", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "missing model.safetensors" in err and len(err.strip().splitlines()) == 1


def test_checkpoint_of_another_experiment_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mfmarl.algorithms import AlgorithmConfig, make_learner
    from mfmarl.training.checkpoint import save_checkpoint

    squeeze = make_learner(AlgorithmConfig(algo="mfq", hidden=()), 0, 10, 5)
    save_checkpoint(tmp_path / "ckpt", squeeze)
    assert main(["battle", str(tmp_path / "ckpt"), "random", "--out", str(tmp_path / "o")]) == 2
    assert "not a Battle learner" in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mfmarl.algorithms import AlgorithmConfig, make_learner
    from mfmarl.training.checkpoint import save_checkpoint

    learner = make_learner(
        AlgorithmConfig(algo="mfq"), 13 * 13 * 5 + 32, 21, 16, view_shape=(13, 13, 5)
    )
    save_checkpoint(tmp_path / "ckpt", learner)
    (tmp_path / "ckpt" / "model.safetensors").write_bytes(b"not tensors")
    assert main(["battle", str(tmp_path / "ckpt"), "random", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
