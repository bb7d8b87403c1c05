"""``--precision auto``: the command prints what it chose and why, config.json records it,
and a resumed run keeps it even where this machine's probe now says otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mfmarl.cli import main
from mfmarl.networks import precision
from mfmarl.networks.view import ViewEncoder

TINY = [
    *("--map-size", "16", "--team-size", "4", "--max-steps", "10", "--learning-starts", "8"),
    *("--batch-size", "8", "--threads", "1", "--device", "cpu", "--no-progress"),
]


def _machine(monkeypatch: pytest.MonkeyPatch, fp32: float, bf16: float) -> None:
    """A CPU with native bf16 whose probe measures ``fp32`` and ``bf16`` seconds."""
    precision.probe_bf16.cache_clear()
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    seconds = {None: fp32, torch.bfloat16: bf16}
    monkeypatch.setattr(precision, "_probe_seconds", lambda dtype, device: seconds[dtype])


def _built_precisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resolved precision of every view encoder built from now on."""
    built: list[str] = []
    init = ViewEncoder.__init__

    def recording(self: ViewEncoder, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        built.append(self.precision)

    monkeypatch.setattr(ViewEncoder, "__init__", recording)
    return built


def test_auto_is_printed_recorded_and_kept_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    _machine(monkeypatch, fp32=0.010, bf16=0.005)  # bf16 twice as fast here
    built = _built_precisions(monkeypatch)
    args = ["train", "battle", "--algo", "mfq", "--precision", "auto", *TINY]
    assert main([*args, "--episodes", "2", "--out", str(run)]) == 0
    assert (
        "precision: bf16 (auto, probe on cpu: fp32 10.0 ms, bf16 5.0 ms)" in capsys.readouterr().out
    )
    assert set(built) == {"bf16"}
    config = json.loads((run / "config.json").read_text())
    assert config["auto_precision"] == "bf16" and config["algorithms"]["red"]["precision"] == "auto"
    config["train"]["episodes"] = 3  # as if killed after 2 of 3
    (run / "config.json").write_text(json.dumps(config))
    _machine(monkeypatch, fp32=0.010, bf16=0.050)  # another machine: bf16 slower there
    built.clear()
    assert main(["resume", str(run), "--no-progress"]) == 0
    assert set(built) == {"bf16"}  # the run's own arithmetic, not this machine's choice
    assert precision.auto_choice("cpu")[0] == "fp32"  # and only for that run


def test_fp32_runs_print_and_record_no_auto_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "battle", "--algo", "mfq", "--precision", "fp32", *TINY]
    assert main([*args, "--episodes", "1", "--out", str(run)]) == 0
    assert "precision:" not in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["auto_precision"] is None


def test_the_default_is_auto_and_a_trained_player_plays_in_its_recorded_arithmetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --precision the run probes (auto); its checkpoint records the arithmetic, and
    a player loaded from it is rebuilt in that arithmetic without probing again."""
    from mfmarl.evaluation.players import load_player

    run = tmp_path / "run"
    _machine(monkeypatch, fp32=0.010, bf16=0.005)
    args = ["train", "battle", "--algo", "mfq", *TINY, "--episodes", "1", "--out", str(run)]
    assert main(args) == 0
    assert "precision: bf16 (auto, probe on cpu" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["auto_precision"] == "bf16"
    _machine(monkeypatch, fp32=0.010, bf16=0.050)  # this process's probe would now say fp32
    built = _built_precisions(monkeypatch)
    player = load_player(str(run))
    assert set(built) == {"bf16"} and player.learners["red"].precision == "bf16"
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))  # no native bf16
    built.clear()
    assert load_player(str(run)).learners["red"].precision == "fp32"
    assert set(built) == {"fp32"}
