"""``mfmarl export``: the exported policy plays exactly as the run it came from, is a fraction
of a checkpoint, refuses malformed files in one line; the shipped pretrained player loads and
beats random play."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import
from safetensors.torch import load_file, save_file

from mfmarl.cli import main
from mfmarl.evaluation.export import EXPORT_FILE, FORMAT
from mfmarl.evaluation.players import load_player, pretrained_path

TINY = ["--map-size", "16", "--max-steps", "8"]


def _trained_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    args = ["train", "battle", "--out", str(run), *TINY, "--episodes", "2"]
    assert main([*args, "--learning-starts", "16", "--no-progress"]) == 0
    return run


def _battle(tmp_path: Path, a: str, b: str, name: str, rounds: int = 4) -> dict:
    out = tmp_path / name
    args = ["battle", a, b, "--rounds", str(rounds), "--seed", "5", "--out", str(out)]
    assert main([*args, "--no-progress"]) == 0
    return json.loads((out / "results.json").read_text())


def test_an_export_plays_exactly_as_its_run(tmp_path: Path) -> None:
    run = _trained_run(tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "x")]) == 0
    exported = tmp_path / "x" / EXPORT_FILE
    checkpoint = run / "checkpoint" / "red" / "model.safetensors"
    assert exported.stat().st_size < checkpoint.stat().st_size / 3  # no optimizer, no target
    from_run = _battle(tmp_path, str(run), "attack-nearest", "a")
    from_export = _battle(tmp_path, str(tmp_path / "x"), "attack-nearest", "b")
    from_file = _battle(tmp_path, str(exported), "attack-nearest", "c")
    for key in ("round_kills", "round_winner", "mean_reward"):
        assert from_run[key] == from_export[key] == from_file[key]
    player = load_player(str(exported))
    assert set(player.learners) == {"red", "blue"}  # blue plays with red's network, as trained
    assert player.learners["red"] is player.learners["blue"]


def test_a_malformed_export_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _trained_run(tmp_path)
    assert main(["export", str(run), "--out", str(tmp_path / "x")]) == 0
    good = tmp_path / "x" / EXPORT_FILE
    tensors = load_file(str(good))
    from safetensors import safe_open

    with safe_open(str(good), framework="pt") as f:
        header = dict(f.metadata())
    cases = {
        "format": ({**header, "format": "other/9"}, tensors, "format"),
        "record": ({**header, "player": "{not json"}, tensors, "bad player record"),
        "shape": (
            header,
            {k: (v[:1] if v.dim() else v) for k, v in tensors.items()},
            "do not match|is (",
        ),
        "missing": (header, dict(list(tensors.items())[1:]), "do not match"),
    }
    for name, (meta, values, message) in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        save_file(values, str(bad), metadata=meta)
        args = ["battle", str(bad), "random", "--rounds", "1", "--out", str(tmp_path / name)]
        assert main(args) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("mfmarl: error:") and "\n" not in err, err
        assert any(part in err for part in message.split("|")), (name, err)
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    assert main(["battle", str(tmp_path / "garbage.safetensors"), "random"]) == 2
    assert main(["export", "random", "--out", str(tmp_path / "y")]) == 2
    assert "built-in" in capsys.readouterr().err
    assert FORMAT in header.values()


def test_the_shipped_pretrained_player_loads_and_beats_random(tmp_path: Path) -> None:
    assert pretrained_path("mfq-battle-quick").stat().st_size < 5e6
    result = _battle(tmp_path, "mfq-battle-quick", "random", "p", rounds=6)
    assert result["wins"][0] >= 5, result["wins"]  # 16 v 16 on its 24 map: it won 50/50
