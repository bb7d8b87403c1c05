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
        "sides",
        "rounds",
        "interrupted",
        "wins",
        "ties",
        "win_rate",
        "win_rate_ci95",
        "kills",
        "survivors",
        "mean_reward",
        "round_kills",
        "round_winner",
    ]
    assert results["players"] == ["attack-nearest", "random"] and results["rounds"] == 3
    assert sum(results["wins"]) + results["ties"] == 3
    assert results["win_rate"][0] == results["wins"][0] / 3
    lo, hi = results["win_rate_ci95"][0]
    assert lo <= results["win_rate"][0] <= hi
    assert all(len(results[k]) == 2 for k in ("kills", "survivors", "mean_reward"))
    assert "results.json" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == "battle" and config["players"] == ["attack-nearest", "random"]
    assert config["rounds"] == 3 and config["seed"] == 5
    assert config["arena"]["env"]["kwargs"]["map_size"] == 20
    assert config["command"][1:] == ["battle", *args[1:], "--seed", "5", "--out", str(out)] + [
        "--no-progress"
    ]
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
    assert "neither a training run nor a checkpoint" in err and len(err.strip().splitlines()) == 1


def test_checkpoint_of_another_experiment_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mfmarl.algorithms import AlgorithmConfig, make_learner
    from mfmarl.training.checkpoint import save_checkpoint

    squeeze = make_learner(AlgorithmConfig(algo="mfq", hidden=()), 0, 10, 5)
    save_checkpoint(tmp_path / "ckpt", squeeze)
    assert main(["battle", str(tmp_path / "ckpt"), "random", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "the player was trained on 0 and 10" in err and len(err.strip().splitlines()) == 1


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


def _trained_run(tmp_path: Path, name: str, map_size: int) -> Path:
    run = tmp_path / name
    args = ["train", "battle", "--scale", "quick", "--out", str(run), "--map-size", str(map_size)]
    extra = ["--max-steps", "5", "--episodes", "1", "--learning-starts", "16", "--no-progress"]
    assert main([*args, *extra]) == 0
    return run


def test_map_and_team_come_from_the_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _trained_run(tmp_path, "run", 16)
    capsys.readouterr()
    out = tmp_path / "o"
    assert main(["battle", str(run), "random", "--rounds", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "red (6) v blue (6), map_size=16" in printed  # the 16 map's layout: 6 v 6
    assert json.loads((out / "results.json").read_text())["rounds"] == 2
    # a player trained on another map: the settings disagree and must be given
    other = _trained_run(tmp_path, "other", 20)
    capsys.readouterr()
    assert main(["battle", str(run), str(other), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "different environments" in err and len(err.splitlines()) == 1
    both = ["battle", str(run), str(other), "--rounds", "1", "--map-size", "20"]
    assert main([*both, "--out", str(tmp_path / "y"), "--no-progress"]) == 0


def test_render_writes_an_animated_gif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import imageio.v3 as iio

    gif = tmp_path / "battle.gif"
    args = ["render", "attack-nearest", "random", "--map-size", "20", "--max-steps", "30"]
    assert main([*args, "--out", str(gif), "--cell", "4"]) == 0
    frames = iio.imread(gif, index=None)
    # one frame after the reset and one per step; 20 cells of 4 pixels plus a 2-pixel border
    assert frames.ndim == 4 and 2 <= frames.shape[0] <= 31 and frames.shape[1:3] == (84, 84)
    assert "kills" in capsys.readouterr().out
    assert main([*args, "--out", str(gif)]) == 2  # exists: needs --force
    assert main([*args, "--out", str(tmp_path / "battle.png")]) == 2
    assert main(["render", "nobody", "random", "--out", str(tmp_path / "n.gif")]) == 2
    assert not (tmp_path / "n.gif").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mfmarl: error:") for line in err)
