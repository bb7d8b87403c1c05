"""Metric backends, offline: W&B (offline mode) and MLflow (local file store) receive every
episode's metrics at the global environment step, and a resumed run continues the same W&B
and MLflow runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mfmarl.core.errors import ConfigError
from mfmarl.experiments.gaussian_squeeze import GaussianSqueezeConfig
from mfmarl.experiments.gaussian_squeeze.preset import gaussian_squeeze_preset
from mfmarl.experiments.gaussian_squeeze.reproduce import squeeze_spec
from mfmarl.training.logger import read_metrics
from mfmarl.training.run import resume_run, train_run

pytest.importorskip("wandb")
pytest.importorskip("mlflow")


def _spec(episodes: int, loggers: tuple[str, ...]):  # type: ignore[no-untyped-def]
    algo, train = gaussian_squeeze_preset("iql", 10, "quick")
    spec = squeeze_spec(
        GaussianSqueezeConfig(n_agents=10), algo, dataclasses.replace(train, episodes=episodes)
    )
    return dataclasses.replace(spec, loggers=loggers)


def test_wandb_and_mlflow_get_every_episode_and_resume_continues_their_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("WANDB_MODE", "MLFLOW_TRACKING_URI", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    spec = _spec(6, ("tensorboard", "wandb", "mlflow"))
    calls = iter(range(10**6))
    train_run(spec, tmp_path, should_stop=lambda: next(calls) >= 3)  # 4 of 6 episodes
    wandb_id = (tmp_path / ".wandb-run-id").read_text().strip()
    mlflow_id = (tmp_path / ".mlflow-run-id").read_text().strip()
    resume_run(tmp_path)
    assert (tmp_path / ".wandb-run-id").read_text().strip() == wandb_id
    assert (tmp_path / ".mlflow-run-id").read_text().strip() == mlflow_id

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri())
    history = client.get_metric_history(mlflow_id, "charts/episodic_return")
    logged = read_metrics(tmp_path / "metrics.csv")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5, 6]  # the environment steps
    by_step = {m.step: m.value for m in history}
    for step, value in zip(logged["charts/global_step"], logged["charts/episodic_return"]):
        assert by_step[int(step)] == pytest.approx(value)
    params = client.get_run(mlflow_id).data.params
    assert params["train.episodes"] == "6" and params["name"] == '"gaussian-squeeze"'

    runs = sorted((tmp_path / "wandb").glob(f"offline-run-*-{wandb_id}"))
    assert len(runs) == 2  # one directory per session, one W&B run id
    assert all(list(run.glob("*.wandb")) for run in runs)


def test_an_unknown_logger_is_refused() -> None:
    with pytest.raises(ConfigError, match="not one of"):
        _spec(2, ("comet",))


def test_an_animation_reaches_every_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``log_animation``: the GIF file in the run, an artifact in MLflow, a media file in the
    offline W&B run."""
    import numpy as np

    from mfmarl.training.logger import MetricsLogger

    for name in ("WANDB_MODE", "MLFLOW_TRACKING_URI", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    frames = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    frames[1, 2:5, 2:5] = 255
    with MetricsLogger(tmp_path, loggers=("tensorboard", "wandb", "mlflow")) as logger:
        logger.log({"episode": 0, "charts/global_step": 7, "charts/episodic_return": 1.0})
        path = logger.log_animation("eval/round", "eval/episode_1.gif", frames)
    assert path == tmp_path / "eval" / "episode_1.gif" and path.read_bytes()[:3] == b"GIF"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").resolve().as_uri())
    run_id = (tmp_path / ".mlflow-run-id").read_text().strip()
    assert [a.path for a in client.list_artifacts(run_id, "eval")] == ["eval/episode_1.gif"]
    assert list((tmp_path / "wandb").glob("offline-run-*/files/media/videos/**/*.gif"))
