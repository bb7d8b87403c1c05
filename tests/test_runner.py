"""Run directories, atomic JSON, the metrics logger and whole training runs."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from mfmarl.core import ConfigError
from mfmarl.experiments.gaussian_squeeze import GaussianSqueezeConfig
from mfmarl.experiments.gaussian_squeeze.preset import gaussian_squeeze_preset
from mfmarl.experiments.gaussian_squeeze.reproduce import squeeze_spec
from mfmarl.training.logger import MetricsLogger, read_metrics
from mfmarl.training.run import RunSummary, resume_run, tail_length, train_run
from mfmarl.training.rundir import RUN_OUTPUTS, prepare_run_dir, write_json_atomic


def test_prepare_run_dir(tmp_path: Path) -> None:
    out = prepare_run_dir(tmp_path / "a" / "b", force=False)
    assert out.is_dir()
    assert prepare_run_dir(out, force=False) == out  # empty: fine without --force

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        prepare_run_dir(a_file, force=True)
    with pytest.raises(ConfigError, match="cannot create"):
        prepare_run_dir(a_file / "sub", force=False)

    (out / "metrics.csv").write_text("old")
    (out / "runs" / "x").mkdir(parents=True)
    assert (out / ".mfmarl").is_file()  # the marker: mfmarl made this directory
    (out / "plot.png").write_text("old")
    (out / "notes.txt").write_text("mine")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (out / "link").symlink_to(outside)
    with pytest.raises(ConfigError, match="--force"):
        prepare_run_dir(out, force=False)
    prepare_run_dir(out, force=True)
    assert sorted(p.name for p in out.iterdir()) == [".mfmarl", ".mfmarl.lock", "link", "notes.txt"]
    assert outside.read_text() == "keep"


def test_force_never_deletes_in_a_directory_mfmarl_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine"
    (mine / "runs").mkdir(parents=True)
    for name in ("config.json", "holiday.png", "runs/notes.txt"):
        (mine / name).write_text("mine")
    with pytest.raises(ConfigError, match="did not write"):
        prepare_run_dir(mine, force=True)
    monkeypatch.chdir(mine)
    for where in ("", ".", str(mine)):
        with pytest.raises(ConfigError):
            prepare_run_dir(where, force=True)
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "holiday.png", "runs"]
    assert (mine / "runs" / "notes.txt").read_text() == "mine"


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = prepare_run_dir(tmp_path / "run", force=False)
    code = (
        "import sys; from mfmarl.training.rundir import prepare_run_dir\n"
        "from mfmarl.core.errors import ConfigError\n"
        "try:\n    prepare_run_dir(sys.argv[1], force=True)\n"
        "except ConfigError as e:\n    print(e); sys.exit(2)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert done.returncode == 2 and "another mfmarl process" in done.stdout


def test_force_for_a_single_run_keeps_experiment_outputs(tmp_path: Path) -> None:
    out = prepare_run_dir(tmp_path / "o", force=False)
    (out / "runs").mkdir()
    (out / "metrics.csv").write_text("old")
    prepare_run_dir(out, force=True, known=RUN_OUTPUTS)
    assert sorted(p.name for p in out.iterdir()) == [".mfmarl", ".mfmarl.lock", "runs"]


def test_write_json_atomic(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": (1, 2), "nan": float("nan")})
    write_json_atomic(path, {"a": [3], "nan": float("inf")})
    assert json.loads(path.read_text()) == {"a": [3], "nan": None}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left


def test_metrics_logger_widens_the_header(tmp_path: Path) -> None:
    logger = MetricsLogger(tmp_path, tensorboard=False)
    logger.log({"episode": 0, "charts/episodic_return": 1.5, "env/G": 2.0})
    logger.log({"episode": 1, "charts/episodic_return": 2.5, "losses/td_loss": 0.25})
    logger.log({"episode": 2, "env/G": 4.0, "losses/td_loss": 0.5})
    logger.close()
    with (tmp_path / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["episode", "charts/episodic_return", "env/G", "losses/td_loss"]
    assert [r["losses/td_loss"] for r in rows] == ["", "0.25", "0.5"]
    assert [r["env/G"] for r in rows] == ["2.0", "", "4.0"]
    columns = read_metrics(tmp_path / "metrics.csv")
    assert columns["episode"] == [0.0, 1.0, 2.0]


def test_metrics_logger_writes_tensorboard(tmp_path: Path) -> None:
    with MetricsLogger(tmp_path) as logger:
        logger.log({"episode": 0, "env/G": 1.0})
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_tail_length() -> None:
    assert [tail_length(e) for e in (1, 9, 10, 11, 2000)] == [1, 1, 1, 2, 200]


def _run(out: Path, seed: int = 0) -> RunSummary:
    algo, train = gaussian_squeeze_preset("mfq", 10, "quick")
    train = dataclasses.replace(train, episodes=25, seed=seed)
    return train_run(squeeze_spec(GaussianSqueezeConfig(n_agents=10), algo, train, 10), out)


def test_train_run_writes_everything_and_is_deterministic(tmp_path: Path) -> None:
    first = _run(tmp_path / "a")
    second = _run(tmp_path / "b")
    assert first.episodes == 25 and first.algo == "mfq" and first.n_agents == 10
    a, b = (
        read_metrics(tmp_path / "a" / "metrics.csv"),
        read_metrics(tmp_path / "b" / "metrics.csv"),
    )
    for key in ("env/G", "env/x", "charts/episodic_return"):
        assert a[key] == b[key]
    assert first.final_G == second.final_G
    # final_G is the mean of env/G over the last 10% (here 3) of the episodes.
    assert first.final_G == pytest.approx(sum(a["env/G"][-3:]) / 3)
    names = {p.name for p in (tmp_path / "a").iterdir()}
    assert {"config.json", "metrics.csv", "tb", "checkpoint", "summary.json"} <= names
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["name"] == "gaussian-squeeze" and config["roles"] == {"agent": "mfq"}
    assert config["algorithms"]["agent"]["algo"] == "mfq" and config["train"]["episodes"] == 25
    assert config["env"]["kwargs"]["n_agents"] == 10
    meta = json.loads((tmp_path / "a" / "checkpoint" / "agent" / "checkpoint.json").read_text())
    assert meta["episode"] == 25 and meta["env"]["kwargs"]["n_agents"] == 10


def test_should_stop_ends_a_run_cleanly(tmp_path: Path) -> None:
    algo, train = gaussian_squeeze_preset("iql", 10, "quick")
    train = dataclasses.replace(train, episodes=1000)
    calls = iter(range(10**6))
    spec = squeeze_spec(GaussianSqueezeConfig(n_agents=10), algo, train)
    summary = train_run(spec, tmp_path, should_stop=lambda: next(calls) >= 6)
    assert summary.interrupted and summary.episodes == 7
    assert len(read_metrics(tmp_path / "metrics.csv")["episode"]) == 7
    meta = json.loads((tmp_path / "checkpoint" / "run.json").read_text())
    assert meta["episode"] == 7


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    """Stop after 7 of 20 episodes, resume: every episode logged once, the count right, and
    the run killed before its first checkpoint restarts from the start."""
    algo, train = gaussian_squeeze_preset("iql", 10, "quick")
    spec = squeeze_spec(
        GaussianSqueezeConfig(n_agents=10), algo, dataclasses.replace(train, episodes=20)
    )
    calls = iter(range(10**6))
    train_run(spec, tmp_path / "r", should_stop=lambda: next(calls) >= 6)
    summary = resume_run(tmp_path / "r")
    assert summary.resumed_from == 7 and summary.episodes == 20
    assert read_metrics(tmp_path / "r" / "metrics.csv")["episode"] == [float(e) for e in range(20)]
    # killed before any checkpoint: config.json and a few metric rows, no checkpoint
    train_run(spec, tmp_path / "k", should_stop=lambda: True)
    import shutil

    shutil.rmtree(tmp_path / "k" / "checkpoint")
    again = resume_run(tmp_path / "k")
    assert again.resumed_from == 0 and again.episodes == 20
    assert read_metrics(tmp_path / "k" / "metrics.csv")["episode"] == [float(e) for e in range(20)]


def test_a_resumed_run_summarises_the_episodes_logged_before_its_checkpoint(
    tmp_path: Path,
) -> None:
    """The final metrics are means over the last 10% of the run's episodes, whichever
    session played them; a finished run is kept as it is; a run killed after its last
    checkpoint but before its summary gets the summary of its logged episodes."""
    algo, train = gaussian_squeeze_preset("iql", 10, "quick")
    spec = squeeze_spec(
        GaussianSqueezeConfig(n_agents=10), algo, dataclasses.replace(train, episodes=20)
    )
    assert tail_length(20) == 2
    calls = iter(range(10**6))
    train_run(spec, tmp_path / "r", should_stop=lambda: next(calls) >= 18)  # 19 of 20
    summary = resume_run(tmp_path / "r")
    assert summary.resumed_from == 19 and summary.episodes_this_session == 1
    logged = read_metrics(tmp_path / "r" / "metrics.csv")
    assert logged["episode"][-2:] == [18.0, 19.0]
    assert summary.final_G == pytest.approx(sum(logged["env/G"][-2:]) / 2, rel=1e-6)
    # resuming the finished run changes nothing
    before = (tmp_path / "r" / "summary.json").read_text()
    again = resume_run(tmp_path / "r")
    assert (tmp_path / "r" / "summary.json").read_text() == before
    assert again.seconds == summary.seconds and again.final_G == summary.final_G
    # killed between the last checkpoint and the summary
    (tmp_path / "r" / "summary.json").unlink()
    late = resume_run(tmp_path / "r")
    assert late.episodes == 20 and late.final_G == pytest.approx(summary.final_G, rel=1e-6)


def test_run_jobs_stops_between_runs(tmp_path: Path) -> None:
    from mfmarl.experiments.gaussian_squeeze.reproduce import SqueezeExperiment, plan_runs, run_jobs

    experiment = SqueezeExperiment(n_agents=(10,), algos=("mfq", "iql"), seeds=1)
    jobs = plan_runs(experiment, tmp_path)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, workers=1, should_stop=stop)
    summaries = [json.loads(p.read_text()) for p in tmp_path.glob("runs/*/summary.json")]
    assert len(summaries) == 1 and summaries[0]["interrupted"] is True


def test_tensorboard_plots_against_the_environment_step(tmp_path: Path) -> None:
    """TensorBoard's x-axis is the global environment step (the episode is a scalar too),
    and a resumed run's events continue from where its kept rows end."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    algo, train = gaussian_squeeze_preset("iql", 10, "quick")
    spec = squeeze_spec(
        GaussianSqueezeConfig(n_agents=10), algo, dataclasses.replace(train, episodes=6)
    )
    calls = iter(range(10**6))
    train_run(spec, tmp_path, should_stop=lambda: next(calls) >= 3)  # 4 of 6 episodes
    resume_run(tmp_path)
    logged = read_metrics(tmp_path / "metrics.csv")
    assert logged["charts/global_step"] == [float(e + 1) for e in range(6)]  # one step a round
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    steps = [e.step for e in events.Scalars("charts/episodic_return")]
    assert steps == [1, 2, 3, 4, 5, 6]  # each once, though the run was resumed
    episodes = {e.step: e.value for e in events.Scalars("charts/episode")}
    assert episodes == {s: float(s - 1) for s in steps}
