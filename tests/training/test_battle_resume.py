"""--resume: a run killed with SIGKILL continues from its last good checkpoint."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch  # noqa: F401  (torch before magent2)

from mfmarl.cli import main
from mfmarl.training.checkpoint import load_run_checkpoint

TINY = [
    "--scale", "quick", "--map-size", "16", "--team-size", "4", "--max-steps", "12",
    "--learning-starts", "16", "--checkpoint-every", "1", "--no-progress", "--device", "cpu",
]  # fmt: skip


def _episodes(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as f:
        return [int(row["episode"]) for row in csv.DictReader(f)]


def _checkpoint_episode(run: Path) -> int:
    meta = run / "checkpoint" / "run.json"
    try:
        return json.loads(meta.read_text())["episode"] if meta.is_file() else 0
    except (OSError, ValueError):  # between the renames of a save
        return 0


def load_checkpoint(path: Path):  # type: ignore[no-untyped-def]
    """The red learner's checkpoint of a run checkpoint, with the run's metadata."""
    run = load_run_checkpoint(path)
    learner = run.learners["red"]
    return type(learner)(learner.path, {**learner.metadata, **run.metadata}, learner.tensors)


def test_resume_after_sigkill_completes_the_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "mfmarl", "train", "battle", "--out", str(run)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.Popen([*command, *TINY, "--episodes", "400"], env=env)
    try:
        deadline = time.monotonic() + 120
        while _checkpoint_episode(run) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it was killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # at any instant, mid-save included
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt = load_checkpoint(run / "checkpoint")  # the last good checkpoint is intact
    saved = int(ckpt.metadata["episode"])
    assert saved >= 3 and ckpt.metadata["train_rng"]["bit_generator"] == "PCG64"
    # finish quickly: shorten the recorded run to a few episodes past the checkpoint
    config = json.loads((run / "config.json").read_text())
    config["train"]["episodes"] = saved + 2
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 0
    assert _episodes(run) == list(range(saved + 2))  # each episode logged exactly once
    resumed = load_checkpoint(run / "checkpoint")
    assert resumed.metadata["episode"] == saved + 2
    assert resumed.metadata["env_steps"] > ckpt.metadata["env_steps"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"] == saved and summary["episodes_this_session"] == 2


def test_resume_restores_optimizer_and_generators(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "battle", "--out", str(run), *TINY, "--episodes", "2"]) == 0
    before = load_checkpoint(run / "checkpoint")
    assert any(k.startswith("optimizer/") for k in before.tensors)
    config = json.loads((run / "config.json").read_text())
    config["train"]["episodes"] = 3
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 0
    after = load_checkpoint(run / "checkpoint")
    step_key = next(k for k in after.tensors if k.endswith("/step"))
    assert float(after.tensors[step_key]) > float(before.tensors[step_key])  # Adam kept counting
    assert after.metadata["learner_state"]["updates"] > before.metadata["learner_state"]["updates"]
    assert after.metadata["train_rng"] != before.metadata["train_rng"]
    assert _episodes(run) == [0, 1, 2]


def test_a_save_killed_between_its_renames_falls_back_to_the_old_copy(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "battle", "--out", str(run), *TINY, "--episodes", "2"]) == 0
    # the state between "checkpoint -> checkpoint.old" and "checkpoint.new -> checkpoint"
    (run / "checkpoint").rename(run / "checkpoint.old")
    (run / "checkpoint.new").mkdir()
    (run / "checkpoint.new" / "run.json").write_bytes(b"torn")
    assert load_checkpoint(run / "checkpoint").metadata["episode"] == 2
    config = json.loads((run / "config.json").read_text())
    config["train"]["episodes"] = 3
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 0
    assert sorted(p.name for p in run.glob("checkpoint*")) == ["checkpoint"]
    assert load_checkpoint(run / "checkpoint").metadata["episode"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--episodes", "5"], "drop --out and the settings"),
        ([], "no training run there"),
    ],
)
def test_resume_bad_input(tmp_path: Path, capsys, extra, message) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "nothing"
    target.mkdir()
    assert main(["train", "battle", "--resume", str(target), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_resume_with_a_corrupt_checkpoint_is_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    assert main(["train", "battle", "--out", str(run), *TINY, "--episodes", "1"]) == 0
    saved = (run / "metrics.csv").read_text()
    (run / "checkpoint" / "red" / "model.safetensors").write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err and len(err.strip().splitlines()) == 1
    assert (run / "metrics.csv").read_text() == saved  # nothing already saved is lost
    shutil.rmtree(run)


def test_resume_with_a_checkpoint_of_another_algorithm_is_one_line(
    tmp_path: Path,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    run = tmp_path / "run"
    assert main(["train", "battle", "--out", str(run), *TINY, "--episodes", "1"]) == 0
    config = json.loads((run / "config.json").read_text())
    config["algorithms"]["red"]["algo"] = "mfac"  # the checkpoint holds an mfq learner
    config["roles"]["red"] = "mfac"
    config["train"]["episodes"] = 2
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is mfq, expected mfac" in err and len(err.strip().splitlines()) == 1
    assert _episodes(run) == [0]
