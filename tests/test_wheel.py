"""Packaging: the sdist and wheel build, and the wheel installed into a fresh virtual
environment (not this checkout) runs the command line and a tiny training run.

Slow (about a minute: a venv, the CPU torch and the dependencies); ``make wheel`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_trains(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("mfmarl-*-py3-none-any.whl")
    assert len(list(dist.glob("mfmarl-*.tar.gz"))) == 1
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python, cli = venv / "bin" / "python", venv / "bin" / "mfmarl"
    _run(python, "-m", "pip", "install", "--quiet", TORCH_SPEC, cwd=tmp_path)
    _run(python, "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path)
    where = _run(python, "-c", "import mfmarl; print(mfmarl.__file__)", cwd=tmp_path).stdout
    assert str(venv) in where and str(ROOT) not in where  # the installed copy, not the checkout
    assert "reproduce" in _run(cli, "--help", cwd=tmp_path).stdout
    out = tmp_path / "run"
    args = ["train", "gaussian-squeeze", "--n-agents", "10", "--episodes", "3", "--out", out]
    _run(cli, *args, "--no-progress", cwd=tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 3 and (out / "checkpoint" / "run.json").is_file()
    # a MAgent2 game too (the engine's shared library comes with magent2)
    battle = ["train", "battle", "--map-size", "16", "--max-steps", "8", "--episodes", "1"]
    _run(cli, *battle, "--out", tmp_path / "battle", "--no-progress", cwd=tmp_path)
    assert (tmp_path / "battle" / "summary.json").is_file()
    # the pretrained player is package data of the wheel
    pretrained = ["battle", "mfq-battle-quick", "random", "--rounds", "1", "--no-progress"]
    _run(cli, *pretrained, "--out", tmp_path / "match", cwd=tmp_path)
    assert json.loads((tmp_path / "match" / "results.json").read_text())["rounds"] == 1
