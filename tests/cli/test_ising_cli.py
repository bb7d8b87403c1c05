"""``mfmarl reproduce ising``: the results.json contract on a tiny run, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mfmarl.cli import main
from mfmarl.experiments.ising.reproduce import DEFAULT_GRID, IsingExperiment

TINY_MFQ = ["--warmup-sweeps", "10", "--sweeps", "40", "--measure-sweeps", "30"]


def test_results_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ising"
    temps = ["0.6", "1.0", "1.3", "2.5"]
    code = main(
        ["reproduce", "ising", "--lattice", "4", "--seeds", "2", "--temperatures", *temps]
        + ["--lambda", "1.0", "--h", "0", *TINY_MFQ, "--out", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    assert "Tc" in capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert {"experiment", "lattice", "lambda", "h", "temperatures", "mfq", "mcmc"} <= set(res)
    assert {"onsager", "tc"} <= set(res)
    assert res["experiment"] == "ising" and res["lattice"] == 4
    assert res["lambda"] == 1.0 and res["h"] == 0.0
    assert res["temperatures"] == [0.6, 1.0, 1.3, 2.5]
    for method in ("mfq", "mcmc"):
        for key in ("order_parameter", "order_parameter_std"):
            values = res[method][key]
            assert len(values) == 4 and all(0 <= v <= 1 for v in values), (method, key)
    assert len(res["onsager"]["order_parameter"]) == 4
    assert res["onsager"]["tc"] == pytest.approx(1.1346, abs=1e-4)
    assert res["onsager"]["order_parameter"][2:] == [0.0, 0.0]
    assert {"mfq", "mcmc", "estimator"} <= set(res["tc"])
    assert "susceptibility" in res["tc"]["estimator"]
    # MF-Q is far from converged in 40 sweeps: its χ may peak at an end of the grid (null).
    assert 0.6 < res["tc"]["mcmc"] < 2.5
    assert res["tc"]["mfq"] is None or 0.6 < res["tc"]["mfq"] < 2.5
    config = json.loads((out / "config.json").read_text())
    assert config["mfq"]["sweeps"] == 40
    report = (out / "report.md").read_text()
    assert "Comparison with the paper" in report
    for name in ("order_parameter", "susceptibility", "snapshots", "training"):
        assert (out / f"{name}.png").is_file(), name
        assert f"({name}.png)" in report


def test_default_grid_scales_with_lambda() -> None:
    assert IsingExperiment().grid.tolist() == pytest.approx(list(DEFAULT_GRID))
    assert IsingExperiment(coupling=2.0).grid.tolist() == pytest.approx(
        [2 * t for t in DEFAULT_GRID]
    )
    assert DEFAULT_GRID[0] == 0.5 and DEFAULT_GRID[-1] == 3.0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--lattice", "1"], "lattice=1"),
        (["--temperatures", "1.0", "0"], "temperature 0.0"),
        (["--temperatures", "-1"], "temperature -1.0"),
        (["--schedule", "sideways"], "sideways"),
        (["--neighbourhood", "far"], "far"),
        (["--lambda", "0"], "lambda"),
        (["--seeds", "0"], "seeds"),
        (["--workers", "0"], "workers"),
        (["--alpha", "2"], "alpha"),
    ],
)
def test_bad_input_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "never"
    code = main(["reproduce", "ising", *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("mfmarl: error:") and needle in err
    assert "Traceback" not in err
    assert not out.exists()
