"""``mfmarl tournament`` end to end: the results.json contract, agreement with
``mfmarl battle``, ratings against the two-player closed form, and bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mfmarl.cli import main

TINY = ["--map-size", "16", "--max-steps", "8"]


def _trained_run(tmp_path: Path, name: str, map_size: int = 16) -> Path:
    run = tmp_path / name
    args = ["train", "battle", "--scale", "quick", "--out", str(run), "--map-size", str(map_size)]
    extra = ["--max-steps", "8", "--episodes", "1", "--learning-starts", "16", "--no-progress"]
    assert main([*args, *extra]) == 0
    return run


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_tournament_contract_and_agreement_with_battle(tmp_path: Path) -> None:
    run = _trained_run(tmp_path, "run")
    out = tmp_path / "t"
    players = [str(run), "random", "attack-nearest"]
    args = ["tournament", *players, "--rounds", "4", "--seed", "3", "--resamples", "200"]
    assert main([*args, "--out", str(out), "--no-progress", "--workers", "1"]) == 0
    results = _read(out / "results.json")
    assert list(results) == ["players", "rounds", "win_rate", "ties", "ratings"]
    assert results["players"] == players and results["rounds"] == 4
    rate, ties = results["win_rate"], results["ties"]
    for i in range(3):
        assert rate[i][i] is None and ties[i][i] is None
        for j in range(3):
            if i != j:
                assert rate[i][j] + rate[j][i] + ties[i][j] == pytest.approx(1.0)
                assert ties[i][j] == ties[j][i]
                assert rate[i][j] * 4 == pytest.approx(round(rate[i][j] * 4))
    assert list(results["ratings"]) == players
    for r in results["ratings"].values():
        low, high = r["ci95"]
        assert low <= r["rating"] + 1e-12 and r["rating"] <= high + 1e-12
    assert sum(r["rating"] for r in results["ratings"].values()) == pytest.approx(0, abs=1e-9)
    # the pair (random, attack-nearest) is exactly `mfmarl battle` with the same seed; the
    # battle settings come from the trained player's checkpoint (16 map, 8 steps)
    battle = tmp_path / "b"
    pair = ["battle", "random", "attack-nearest", "--rounds", "4", "--seed", "3", *TINY]
    assert main([*pair, "--out", str(battle), "--no-progress"]) == 0
    head_to_head = _read(battle / "results.json")
    match = _read(out / "matches" / "01-02.json")
    assert match == head_to_head
    assert rate[1][2] == head_to_head["win_rate"][0] and ties[1][2] * 4 == head_to_head["ties"]
    report = (out / "report.md").read_text()
    assert "| rank | player | rating |" in report and "attack-nearest" in report
    assert (out / "cross_play.png").stat().st_size > 0
    assert not (out / "failures.json").exists()


def test_two_player_rating_is_the_closed_form(tmp_path: Path) -> None:
    # Two players, w wins, l losses, t ties, one virtual tie: r_a − r_b = log((w + t/2 + 1/2)
    # / (l + t/2 + 1/2)) and the ratings are ±half of it.
    out = tmp_path / "t"
    args = ["tournament", "attack-nearest", "random", "--rounds", "6", "--map-size", "20"]
    assert main([*args, "--max-steps", "40", "--out", str(out), "--no-progress"]) == 0
    results = _read(out / "results.json")
    w = results["win_rate"][0][1] * 6
    lost = results["win_rate"][1][0] * 6
    t = results["ties"][0][1] * 6
    expected = 0.5 * math.log((w + t / 2 + 0.5) / (lost + t / 2 + 0.5))
    assert results["ratings"]["attack-nearest"]["rating"] == pytest.approx(expected, abs=1e-9)
    assert results["ratings"]["random"]["rating"] == pytest.approx(-expected, abs=1e-9)
    assert w >= 5  # the scripted player beats random


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfmarl: error:") and "\n" not in err and "Traceback" not in err
    return err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_input_is_one_line_and_keeps_earlier_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t"
    good = ["tournament", "random", "attack-nearest", "--rounds", "1", *TINY, "--out", str(out)]
    assert main([*good, "--no-progress"]) == 0
    before = (out / "results.json").read_text()
    capsys.readouterr()
    run = _trained_run(tmp_path, "run")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run / "checkpoint", corrupt)
    (corrupt / "red" / "model.safetensors").write_bytes(b"not tensors")
    other_map = _trained_run(tmp_path, "other", map_size=20)
    capsys.readouterr()
    cases = [
        ([str(tmp_path / "missing"), "random"], "no such run, checkpoint or exported policy"),
        ([str(run), str(corrupt)], "corrupt"),
        ([str(run), str(other_map)], "different environments"),
        (["random"], "at least 2 players"),
        (["random", "random"], "players repeat"),
        (["random", "attack-nearest", "--rounds", "0"], "--rounds=0"),
        (["random", "attack-nearest", "--ray-address", f"127.0.0.1:{_closed_port()}"], "Ray"),
    ]
    for players, message in cases:
        code = main(["tournament", *players, "--out", str(out), "--force", "--no-progress"])
        assert code == 2, players
        err = _one_error_line(capsys)
        assert message in err or message.lower() in err.lower(), (players, err)
        assert (out / "results.json").read_text() == before


def test_nothing_imports_ray_without_the_flags(tmp_path: Path) -> None:
    tiny = "'--map-size', '16', '--max-steps', '4', '--no-progress', '--workers', '1'"
    code = (
        "import sys\n"
        "from mfmarl.cli import main\n"
        f"out = {str(tmp_path)!r}\n"
        f"assert main(['tournament', 'random', 'attack-nearest', '--rounds', '1', {tiny}, "
        "'--out', out + '/t']) == 0\n"
        f"assert main(['reproduce', 'battle', '--algos', 'iql', '--episodes', '1', {tiny}, "
        "'--rounds', '1', '--resamples', '10', '--out', out + '/r']) == 0\n"
        "assert main(['sweep', 'battle', '--set', 'episodes=1', '--set', 'max_steps=4', "
        "'--set', 'map_size=16', '--eval-rounds', '1', '--no-progress', '--workers', '1', "
        "'--out', out + '/s']) == 0\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_failed_match_is_reported_and_the_rest_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mfmarl.evaluation.tournament as tournament

    real = tournament.play_match

    def flaky(config, players, names, *args, **kwargs):  # type: ignore[no-untyped-def]
        if set(names) == {"random", "attack-nearest"}:
            raise RuntimeError("engine fell over")
        return real(config, players, names, *args, **kwargs)

    monkeypatch.setattr(tournament, "play_match", flaky)
    run = _trained_run(tmp_path, "run")
    out = tmp_path / "t"
    args = ["tournament", "random", "attack-nearest", str(run), "--rounds", "2", "--workers", "1"]
    assert main([*args, "--out", str(out), "--no-progress", "--resamples", "50"]) == 1
    err = capsys.readouterr().err
    assert "random vs attack-nearest failed: RuntimeError: engine fell over" in err
    results = _read(out / "results.json")
    assert results["win_rate"][0][1] is None and results["ties"][0][1] is None
    assert results["win_rate"][0][2] is not None and results["win_rate"][2][1] is not None
    assert all(r["rating"] is not None for r in results["ratings"].values())
    assert _read(out / "failures.json")[0]["task"] == "random vs attack-nearest"
    assert "failed" in (out / "report.md").read_text()
