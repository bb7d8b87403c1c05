"""Training with the networks on a GPU (skipped where torch sees none, as in CI).

Each algorithm trains a few Battle and Gaussian Squeeze steps on CUDA through the command
line, its checkpoint plays on the CPU, and a killed CUDA run resumes.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from mfmarl.cli import main

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SMALL_BATTLE = [
    *("--map-size", "16", "--team-size", "6", "--max-steps", "30"),
    *("--learning-starts", "16", "--batch-size", "16", "--threads", "1", "--no-progress"),
]


def losses(run: Path) -> list[float]:
    """Every loss value the run logged."""
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [float(v) for row in rows for k, v in row.items() if k.startswith("losses/") and v]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("algo", ["mfq", "mfac", "iql", "iac"])
def test_battle_trains_on_cuda_and_its_checkpoint_plays_on_the_cpu(
    algo: str, precision: str, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = ["train", "battle", "--algo", algo, "--episodes", "2", *SMALL_BATTLE]
    assert main([*args, "--device", "cuda", "--precision", precision, "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["train"]["device"] == "cuda"
    logged = losses(run)
    assert logged and all(math.isfinite(v) for v in logged)
    games = tmp_path / "games"
    assert main(["battle", str(run), "random", "--rounds", "2", "--out", str(games)]) == 0
    assert json.loads((games / "results.json").read_text())["rounds"] == 2


@pytest.mark.parametrize("algo", ["mfq", "mfac"])
def test_gaussian_squeeze_trains_on_cuda(algo: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "gaussian-squeeze", "--algo", algo, "--n-agents", "50", "--episodes", "30"]
    assert main([*args, "--device", "cuda", "--out", str(run), "--no-progress"]) == 0
    logged = losses(run)
    assert logged and all(math.isfinite(v) for v in logged)


def test_a_cuda_run_resumes_on_cuda(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "battle", "--algo", "mfq", *SMALL_BATTLE, "--device", "cuda"]
    assert main([*args, "--episodes", "2", "--out", str(run), "--checkpoint-every", "1"]) == 0
    config = json.loads((run / "config.json").read_text())
    config["train"]["episodes"] = 3  # as if the run had been killed after 2 of 3
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "battle", "--resume", str(run), "--no-progress"]) == 0
    with (run / "metrics.csv").open() as f:
        assert [row["episode"] for row in csv.DictReader(f)] == ["0", "1", "2"]
