"""``--resume`` of ``tournament``, ``sweep`` and ``reproduce``: a killed command continues
in its directory, redoing only what it had not finished; and a stop request (Ctrl-C) ends
``battle`` and ``evaluate`` after the current round with what they played."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

from mfmarl.cli import main
from mfmarl.evaluation.matches import play_match
from mfmarl.evaluation.players import load_player
from mfmarl.experiments.battle.env import BattleConfig, battle_arena

TINY_ARENA = ["--map-size", "16", "--max-steps", "8"]
PLAYERS = ["random", "attack-nearest", "attack-weakest"]


def _tournament(out: Path, *extra: str) -> int:
    args = ["tournament", *PLAYERS, "--rounds", "3", "--resamples", "50", *TINY_ARENA]
    return main([*args, "--out", str(out), "--no-progress", "--workers", "1", *extra])


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfmarl: error:") and "\n" not in err, err
    return err


def test_tournament_resume_plays_only_the_unfinished_matches(tmp_path: Path) -> None:
    out = tmp_path / "t"
    assert _tournament(out) == 0
    results = (out / "results.json").read_text()
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "matches").iterdir()}
    assert sorted(kept) == ["00-01.json", "00-02.json", "01-02.json"]
    # as if killed while playing the last pair, before the results were written
    (out / "matches" / "01-02.json").unlink()
    (out / "results.json").unlink()
    assert _tournament(out, "--resume") == 0
    for name in ("00-01.json", "00-02.json"):
        assert (out / "matches" / name).stat().st_mtime_ns == kept[name]  # not played again
    assert (out / "matches" / "01-02.json").is_file()
    assert (out / "results.json").read_text() == results


def test_resume_is_refused_with_other_settings_force_or_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t"
    assert _tournament(out) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in (out / "matches").iterdir()}
    args = ["tournament", *PLAYERS, "--rounds", "4", "--resamples", "50", *TINY_ARENA]
    assert main([*args, "--out", str(out), "--no-progress", "--resume"]) == 2
    assert "other settings (differing: rounds)" in _error(capsys)
    assert _tournament(out, "--resume", "--force") == 2
    assert "--resume and --force" in _error(capsys)
    assert _tournament(tmp_path / "none", "--resume") == 2
    assert "no run directory" in _error(capsys)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "config.json").write_text("{}")
    assert _tournament(stranger, "--resume") == 2
    assert "not an mfmarl run directory" in _error(capsys)
    assert {p.name: p.read_bytes() for p in (out / "matches").iterdir()} == before


def test_sweep_resume_keeps_finished_runs_and_trains_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "s"
    tiny = ["--set", "episodes=1", "--set", "max_steps=6", "--set", "map_size=16"]
    args = ["sweep", "battle", "--algo", "mfq", "--seeds", "0", "1", *tiny, "--eval-rounds", "2"]
    command = [*args, "--workers", "1", "--out", str(out), "--no-progress"]
    assert main(command) == 0
    first = json.loads((out / "results.json").read_text())
    kept = (out / "runs" / "mfq_s0" / "summary.json").stat().st_mtime_ns
    # as if killed before the second run wrote anything but its config
    for path in sorted((out / "runs" / "mfq_s1").rglob("*"), reverse=True):
        if path.name != "config.json":
            path.rmdir() if path.is_dir() else path.unlink()
    (out / "results.json").unlink()
    assert main([*command, "--resume"]) == 0
    assert (out / "runs" / "mfq_s0" / "summary.json").stat().st_mtime_ns == kept
    again = json.loads((out / "results.json").read_text())
    for a, b in zip(first["runs"], again["runs"]):
        assert a["name"] == b["name"] and a["vs_random"] == b["vs_random"]
        assert a["summary"]["episodes"] == b["summary"]["episodes"] == 1
        assert a["summary"]["final_metrics"] == b["summary"]["final_metrics"]


def test_reproduce_resume_continues_an_interrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "g"
    args = ["reproduce", "gaussian-squeeze", "--n-agents", "10", "--seeds", "1"]
    command = [
        *args,
        "--algos",
        "mfq",
        "iql",
        "--episodes",
        "6",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    assert main(command) == 0
    first = json.loads((out / "results.json").read_text())
    kept = (out / "runs" / "mfq_n10_s0" / "summary.json").stat().st_mtime_ns
    run = out / "runs" / "iql_n10_s0"
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "interrupted": True}))
    (out / "results.json").unlink()
    assert main([*command, "--resume"]) == 0
    assert (out / "runs" / "mfq_n10_s0" / "summary.json").stat().st_mtime_ns == kept
    again = json.loads((out / "results.json").read_text())
    assert json.loads((run / "summary.json").read_text())["interrupted"] is False
    assert again["summary"] == first["summary"]
    for a, b in zip(first["runs"], again["runs"]):
        assert a["final_G"] == pytest.approx(b["final_G"], rel=1e-6)


def test_a_stop_request_ends_a_match_after_the_current_round() -> None:
    players = (load_player("attack-nearest"), load_player("random"))
    arena = battle_arena(BattleConfig(map_size=16, max_steps=8))
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 2

    result = play_match(arena, players, ("a", "b"), 10, 0, should_stop=stop)
    assert result["interrupted"] is True and result["rounds"] == 2
    assert len(result["round_winner"]) == 2 and result["ties"] + sum(result["wins"]) == 2
    full = play_match(arena, players, ("a", "b"), 2, 0)
    assert full["interrupted"] is False and full["round_winner"] == result["round_winner"]


def test_ising_resume_runs_only_the_missing_jobs(tmp_path: Path) -> None:
    out = tmp_path / "i"
    args = ["reproduce", "ising", "--lattice", "6", "--seeds", "1", "--temperatures", "1.5", "3"]
    command = [*args, "--workers", "1", "--out", str(out)]
    assert main(command) == 0
    first = json.loads((out / "results.json").read_text())
    jobs = out / "jobs"
    kept = {p.name: p.stat().st_mtime_ns for p in jobs.iterdir()}
    assert len(kept) == 4  # MF-Q with and without warm-up, MCMC from two starts
    (jobs / "mcmc-random-s0.npz").unlink()  # as if killed while it ran
    (out / "results.json").unlink()
    assert main([*command, "--resume"]) == 0
    for name in ("mfq-main-s0.npz", "mfq-no_warmup-s0.npz", "mcmc-ordered-s0.npz"):
        assert (jobs / name).stat().st_mtime_ns == kept[name]
    again = json.loads((out / "results.json").read_text())
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in first.items() if k != "seconds"
    }
