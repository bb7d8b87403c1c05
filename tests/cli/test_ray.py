"""Ray: the same results as local processes for the same seeds (tiny budget, a local 2-CPU
Ray runtime), and a failing task reported while the rest is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from mfmarl.cli import main

ray = pytest.importorskip("ray")

TINY = ["--episodes", "1", "--max-steps", "6", "--map-size", "16", "--rounds", "2"]


@pytest.fixture(scope="module")
def local_ray() -> Any:
    """One local Ray runtime for the module; the CLI reuses a runtime it finds running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _model_sha(run: Path) -> str:
    return str(_json(run / "checkpoint" / "red" / "checkpoint.json")["model_sha256"])


def test_reproduce_gives_the_same_results_with_and_without_ray(
    tmp_path: Path, local_ray: Any
) -> None:
    base = ["reproduce", "battle", *TINY, "--algos", "mfq", "iac", "--resamples", "100"]
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main([*base, "--workers", "1", "--out", str(local), "--no-progress"]) == 0
    assert main([*base, "--ray", "--out", str(remote), "--no-progress"]) == 0
    assert "Ray" in _json(remote / "config.json")["executor"]
    a, b = _json(local / "results.json"), _json(remote / "results.json")
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    for name in ("results.json", "matches/00-01.json", "matches/01-03.json"):
        assert _json(local / "tournament" / name) == _json(remote / "tournament" / name), name
    for run in ("mfq_s0", "iac_s0"):
        assert _model_sha(local / "runs" / run) == _model_sha(remote / "runs" / run)
    assert ray.is_initialized()  # a runtime the command did not start is left running


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_failed_ray_task_is_reported_and_the_rest_written(
    tmp_path: Path, local_ray: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    args = ["sweep", "battle", "--set", "device=cuda,cpu", "--set", "episodes=1"]
    args += ["--set", "max_steps=6", "--set", "map_size=16", "--eval-rounds", "1", "--ray"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 1
    assert "mfq_device=cuda_s0 failed" in capsys.readouterr().err
    runs = {r["name"]: r["status"] for r in _json(out / "results.json")["runs"]}
    assert runs == {"mfq_device=cuda_s0": "failed", "mfq_device=cpu_s0": "ok"}
    assert (out / "runs" / "mfq_device=cpu_s0" / "eval.json").is_file()
