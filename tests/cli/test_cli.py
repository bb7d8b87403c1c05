"""The command line end to end: files written, bad input, help, Ctrl-C."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.cli import main
from mfmarl.cli.options import field_docs, flag_name
from mfmarl.experiments.gaussian_squeeze import GaussianSqueezeConfig
from mfmarl.training.loop import TrainConfig

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = ["--episodes", "30", "--n-agents", "20"]


def mfmarl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mfmarl ARGS`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "mfmarl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_train_writes_run_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = mfmarl("train", "gaussian-squeeze", *TINY, "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "G*" in proc.stdout
    for name in ("config.json", "metrics.csv", "summary.json"):
        assert (out / name).is_file(), name
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert (out / "checkpoint" / "agent" / "model.safetensors").is_file()
    assert (out / "checkpoint" / "agent" / "checkpoint.json").is_file()
    with (out / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30
    for column in ("episode", "charts/episodic_return", "env/G", "env/x", "losses/td_loss"):
        assert column in rows[0], column
    config = json.loads((out / "config.json").read_text())
    assert config["env"]["kwargs"]["n_agents"] == 20
    assert config["train"]["episodes"] == 30
    assert config["command"][:3] == ["mfmarl", "train", "gaussian-squeeze"]
    assert isinstance(config["torch_threads"], int) and config["torch_threads"] >= 1


def test_resume_runs_on_the_thread_count_the_run_started_with(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "run"
    assert main(["train", "gaussian-squeeze", *TINY, "--out", str(out), "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    config["torch_threads"] = 3
    (out / "config.json").write_text(json.dumps(config))
    before = torch.get_num_threads()
    try:
        assert main(["resume", str(out), "--no-progress"]) == 0  # finished: nothing to train
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_resume_with_no_valid_recorded_thread_count_runs_on_one(tmp_path: Path) -> None:
    import torch

    out = tmp_path / "run"
    assert main(["train", "gaussian-squeeze", *TINY, "--out", str(out), "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    before = torch.get_num_threads()
    try:
        for bad in (True, "3", 0, 1.5, None):
            config["torch_threads"] = bad
            (out / "config.json").write_text(json.dumps(config))
            torch.set_num_threads(2)
            assert main(["resume", str(out), "--no-progress"]) == 0
            assert torch.get_num_threads() == 1, bad
    finally:
        torch.set_num_threads(before)


def test_reproduce_writes_results_report_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "repro"
    proc = mfmarl(
        "reproduce",
        "gaussian-squeeze",
        *TINY,
        "--seeds",
        "2",
        "--algos",
        "mfq",
        "iql",
        "--workers",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "report.md" in proc.stdout and "MF-Q" in proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert {"experiment", "mu", "sigma", "optimum_x", "optimum_G", "runs"} <= set(results)
    assert results["experiment"] == "gaussian-squeeze"
    assert results["optimum_x"] == pytest.approx(444.949, abs=1e-3)
    assert len(results["runs"]) == 4
    run_keys = {"algo", "n_agents", "seed", "final_G", "final_x", "episodes", "seconds"}
    assert all(run_keys <= set(run) for run in results["runs"])
    assert {(r["algo"], r["seed"]) for r in results["runs"]} == {
        ("mfq", 0),
        ("mfq", 1),
        ("iql", 0),
        ("iql", 1),
    }
    assert all(r["episodes"] == 30 and r["n_agents"] == 20 for r in results["runs"])
    for name in ("mfq_n20_s0", "mfq_n20_s1", "iql_n20_s0", "iql_n20_s1"):
        assert (out / "runs" / name / "metrics.csv").is_file()
        assert (out / "runs" / name / "checkpoint" / "agent" / "model.safetensors").is_file()
    assert (out / "config.json").is_file()
    for png in ("curves_n20.png", "final_ratio.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "![curves_n20.png](curves_n20.png)" in report
    assert "| MF-Q | 20 | 2 |" in report
    assert "IL fails" in report


BAD_INPUTS = {
    "unknown algo": ["train", "gaussian-squeeze", "--algo", "nope"],
    "battle hidden (ignored by view nets)": ["train", "battle", "--hidden", "32"],
    "battle dueling": ["train", "battle", "--dueling"],
    "battle normalize": ["train", "battle", "--normalize-mean-action"],
    "battle ā stream": ["train", "battle", "--mean-action-stream", "value"],
    "zero agents": ["train", "gaussian-squeeze", "--n-agents", "0"],
    "zero sigma": ["train", "gaussian-squeeze", "--sigma", "0"],
    "bad reproduce N": ["reproduce", "gaussian-squeeze", "--n-agents", "100", "-5"],
    "negative lr": ["train", "gaussian-squeeze", "--lr", "-1"],
    "not a number": ["train", "gaussian-squeeze", "--episodes", "many"],
    "no workers": ["reproduce", "gaussian-squeeze", "--workers", "0"],
    # issue 17: every value finite and in a range that fits the machine, before allocating
    "negative seed": ["train", "gaussian-squeeze", "--seed", "-1"],
    "seed past 2**64": ["train", "gaussian-squeeze", "--seed", "18446744073709551616"],
    "no such device": ["train", "gaussian-squeeze", "--device", "foo"],
    "infinite sigma": ["train", "gaussian-squeeze", "--sigma", "inf"],
    "huge mu": ["train", "gaussian-squeeze", "--mu", "1e308"],
    "huge lr": ["train", "gaussian-squeeze", "--lr", "1e308"],
    "infinite beta": ["train", "gaussian-squeeze", "--beta-start", "inf"],
    "nan preference": ["train", "gaussian-squeeze", "--initial-preference", "nan"],
    "1e12 agents": ["train", "gaussian-squeeze", "--n-agents", "1000000000000"],
    "1e12 actions": ["train", "gaussian-squeeze", "--n-actions", "1000000000000"],
    "1e12 hidden": ["train", "gaussian-squeeze", "--hidden", "1000000000000"],
    "1e12 batch": ["train", "gaussian-squeeze", "--batch-size", "1000000000000"],
    "1e12 buffer": ["train", "gaussian-squeeze", "--buffer-size", "1000000000000"],
    "battle map 1e12": ["train", "battle", "--map-size", "1000000000000"],
    "battle team 1e12": ["train", "battle", "--team-size", "1000000000000"],
    "battle threads 1e12": ["train", "battle", "--threads", "1000000000000"],
    "battle infinite lr": ["train", "battle", "--lr", "inf"],
    "battle minimap without the fast path": ["train", "battle", "--minimap", "--no-fast"],
    "battle radius without the fast path": [
        "train",
        "battle",
        "--neighbourhood",
        "radius",
        "--no-fast",
    ],
    "ising tiny temperature": ["reproduce", "ising", "--temperatures", "1e-300"],
    "ising huge temperature": ["reproduce", "ising", "--temperatures", "1e308"],
    "ising huge lattice": ["reproduce", "ising", "--lattice", "100000"],
    "ising huge lambda": ["reproduce", "ising", "--lambda", "1e308"],
    "magent2 negative seed": ["train", "magent2", "--env", "battle", "--seed", "-1"],
    "pettingzoo missing module": ["train", "pettingzoo", "--env", "no_such_module:make"],
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main([*BAD_INPUTS[case], "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("mfmarl: error: ") and err.count("\n") == 1, err
    assert not out.exists()  # nothing is written for bad input


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("")
    assert main(["train", "gaussian-squeeze", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert err == f"mfmarl: error: --out {a_file} is a file, not a directory\n"


def test_non_empty_out_needs_force_in_a_subprocess(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    proc = mfmarl("reproduce", "gaussian-squeeze", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = mfmarl("train", "gaussian-squeeze", "--algo", "nope", "--out", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def _help(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main([*args, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    top = _help(capsys)
    assert "train" in top and "reproduce" in top
    train = _help(capsys, "train", "gaussian-squeeze")
    reproduce = _help(capsys, "reproduce", "gaussian-squeeze")
    for cls, skip_reproduce in (
        (AlgorithmConfig, {"algo", "extra"}),
        (TrainConfig, {"seed"}),
        (GaussianSqueezeConfig, set()),
    ):
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            doc = docs.get(f.name, "")
            assert doc, f"{cls.__name__}.{f.name} has no docstring"
            assert flag_name(f.name) in train, f.name
            assert " ".join(doc.split()[:4]) in train, f.name
            if f.name not in skip_reproduce:
                assert flag_name(f.name) in reproduce, f.name
    for option in ("--out", "--force", "--scale", "--checkpoint-every", "--progress"):
        assert option in train
    for option in ("--out", "--force", "--scale", "--seeds", "--n-agents", "--algos", "--workers"):
        assert option in reproduce


def test_ctrl_c_exits_130_and_keeps_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONFAULTHANDLER": "1"}
    command = [sys.executable, "-m", "mfmarl", "train", "gaussian-squeeze", "--no-progress"]
    command += ["--episodes", "1000000", "--n-agents", "20", "--out", str(out)]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell may start the test run with SIGINT ignored; the child must not inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    metrics = out / "metrics.csv"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.is_file() and len(metrics.read_text().splitlines()) > 5:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"no exit 60 s after SIGINT; stacks:\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.count("\n") == 2 and "interrupted" in err and "mfmarl resume" in err
    assert len(metrics.read_text().splitlines()) > 5
    # The run stopped at an episode boundary: its checkpoint and summary were written.
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert (out / "checkpoint" / "agent" / "model.safetensors").is_file()


@pytest.mark.parametrize("player", [".", "/"])
def test_a_directory_without_a_name_is_not_a_player(
    player: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["battle", player, "random", "--out", str(tmp_path / "m"), "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mfmarl: error: player") and err.count("\n") == 1, err


def test_an_unwritable_path_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    out = "/proc/mfmarl-cannot-write-here"
    code = main(["train", "gaussian-squeeze", "--n-agents", "4", "--episodes", "1", "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mfmarl: error: ") and err.count("\n") == 1, err


def test_show_config_prints_the_resolved_preset_without_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["train", "battle", "--scale", "quick", "--lr", "0.0005", "--show-config"]
    assert main(args) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["algorithm"]["lr"] == 0.0005  # the override
    assert shown["battle"]["map_size"] == 24 and shown["train"]["episodes"] == 300  # quick
    assert main(["train", "gaussian-squeeze", "--n-agents", "500", "--show-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["algorithm"]["act_tau"] == pytest.approx(0.3 / 500)  # scaled with N
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert main(["train", "gaussian-squeeze", "--n-agents", "50"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("command", [["train", "gaussian-squeeze"], ["train", "battle"]])
def test_a_missing_gpu_is_refused_before_anything_is_written(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([*command, "--device", "cuda", "--out", str(out)]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert not out.exists()


def test_render_checks_its_directory_before_playing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["render", "random", "random", "--out", "/proc/x.gif"]) == 2
    assert "cannot write in /proc" in capsys.readouterr().err


def test_a_name_too_long_for_the_file_system_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("x" * 300)
    args = ["train", "gaussian-squeeze", "--n-agents", "10", "--episodes", "2"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mfmarl: error:") and err.count("\n") == 1 and "too long" in err
