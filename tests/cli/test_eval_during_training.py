"""Evaluation during training (``--eval-every``): logged win rates equal ``mfmarl battle`` of
the same networks, the training run is the same with or without it, and bad settings are
one line before anything is written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.cli import main
from mfmarl.evaluation.during_training import EVAL_SEED

TINY = ["--map-size", "16", "--max-steps", "20", "--episodes", "4", "--learning-starts", "16"]


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _train(run: Path, *extra: str) -> list[dict[str, str]]:
    """A tiny Battle run on one thread: two runs compared bit for bit must not each probe
    the thread count (auto), which can pick 1 for one and 2 for the other on a noisy
    machine, and sums on 1 and 2 threads differ in their last bits."""
    args = ["train", "battle", *TINY, "--threads", "1", "--out", str(run), "--no-progress"]
    assert main([*args, *extra]) == 0
    return _rows(run)


def test_logged_win_rates_are_those_of_battle_and_training_is_unchanged(tmp_path: Path) -> None:
    evaluated = _train(
        tmp_path / "e",
        "--eval-every",
        "2",
        "--eval-rounds",
        "4",
        "--eval-opponents",
        "random",
        "attack-nearest",
    )
    plain = _train(tmp_path / "p")
    for a, b in zip(evaluated, plain):  # the same run: evaluation draws nothing from it
        for key in ("losses/td_loss", "charts/episodic_return", "charts/global_step"):
            assert a[key] == b[key], key
    assert [r["eval/random/win_rate"] != "" for r in evaluated] == [False, True, False, True]
    last = evaluated[-1]
    for opponent in ("random", "attack-nearest"):
        out = tmp_path / f"b-{opponent}"
        args = ["battle", str(tmp_path / "e"), opponent, "--rounds", "4"]
        assert main([*args, "--seed", str(EVAL_SEED), "--out", str(out), "--no-progress"]) == 0
        match = json.loads((out / "results.json").read_text())
        assert float(last[f"eval/{opponent}/win_rate"]) == match["win_rate"][0]
        low, high = match["win_rate_ci95"][0]
        assert float(last[f"eval/{opponent}/win_rate_low"]) == pytest.approx(low)
        assert float(last[f"eval/{opponent}/win_rate_high"]) == pytest.approx(high)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "magent2", "--env", "gather", "--eval-every", "2"], "two sides"),
        (["train", "battle", "--eval-every", "2", "--eval-opponents", "nobody"], "nobody"),
        (["train", "battle", "--eval-every", "2", "--eval-rounds", "0"], "eval_rounds"),
        (["train", "battle", "--eval-every", "-1"], "eval_every"),
    ],
)
def test_bad_evaluation_settings_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfmarl: error:") and "\n" not in err and message in err, err
    assert not out.exists()


def test_eval_gif_records_a_round_into_the_run_and_tensorboard(tmp_path: Path) -> None:
    """``--eval-gif``: each evaluation writes an animated GIF of one round against the first
    player (frames of the map: a 16 map at 4 pixels a cell, with a 2-pixel border) and puts
    it in TensorBoard's images tab at the environment step of that episode; also through
    the generic adapter (``--no-fast``), whose matches play on the fast path."""
    import imageio.v3 as iio
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for extra in ([], ["--no-fast"]):
        run = tmp_path / ("gif" + "".join(extra))
        rows = _train(run, "--eval-every", "2", "--eval-rounds", "2", "--eval-gif", *extra)
        for episode in (2, 4):
            frames = iio.imread(run / "eval" / f"episode_{episode}.gif", index=None)
            assert frames.ndim == 4 and frames.shape[1:] == (68, 68, 3) and len(frames) > 2
        events = EventAccumulator(str(run / "tb"), size_guidance={"images": 0})
        events.Reload()
        images = events.Images("eval/round")
        steps = [int(float(r["charts/global_step"])) for r in rows]
        assert [i.step for i in images] == [steps[1], steps[3]]
        assert images[-1].encoded_image_string == (run / "eval" / "episode_4.gif").read_bytes()
