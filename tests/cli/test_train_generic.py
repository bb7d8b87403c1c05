"""``mfmarl train magent2`` and ``mfmarl train pettingzoo`` end to end, with roles,
mean-field rules and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch  # noqa: F401 - before magent2

from mfmarl.cli import main

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--episodes", "1", "--learning-starts", "8", "--no-progress", "--checkpoint-every", "0"]


@pytest.mark.parametrize(
    ("env", "kwargs", "groups"),
    [
        ("tiger_deer", '{"map_size": 12, "max_cycles": 6}', ["deer", "tiger"]),
        ("gather", '{"max_cycles": 3}', ["omnivore"]),
        ("combined_arms", '{"map_size": 16, "max_cycles": 4}', None),
    ],
)
def test_train_magent2_writes_a_run(tmp_path: Path, env: str, kwargs: str, groups) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / env
    args = ["train", "magent2", "--env", env, "--env-kwargs", kwargs, "--out", str(out)]
    assert main([*args, *SHORT, "--update-every", "2"]) == 0
    config = json.loads((out / "config.json").read_text())
    if groups is not None:
        assert sorted(config["roles"]) == groups
    for group in config["roles"]:
        assert (out / "checkpoint" / group / "model.safetensors").is_file()
    header = (out / "metrics.csv").read_text().splitlines()[0]
    assert all(f"{g}/episodic_return" in header for g in config["roles"])


def test_roles_and_multi_type_mean_field(tmp_path: Path) -> None:
    out = tmp_path / "td"
    args = ["train", "magent2", "--env", "tiger_deer", "--out", str(out), *SHORT]
    args += ["--env-kwargs", '{"map_size": 12, "max_cycles": 6}', "--role", "deer=random"]
    args += ["--mean-field", "tiger=own+deer", "--algo", "iql"]
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["roles"] == {"deer": "random", "tiger": "iql"}
    assert list(config["algorithms"]) == ["tiger"]
    meta = json.loads((out / "checkpoint" / "tiger" / "checkpoint.json").read_text())
    assert meta["mean_action_dim"] == 9 + 5  # the tigers' 9 actions and the deer's 5
    assert not (out / "checkpoint" / "deer").exists()
    # evaluate compares the trained group only (the deer played at random in training too)
    scores = tmp_path / "eval"
    assert (
        main(["evaluate", str(out), "--episodes", "2", "--out", str(scores), "--no-progress"]) == 0
    )
    record = json.loads((scores / "results.json").read_text())
    assert [g["group"] for g in record["groups"]] == ["tiger"]
    config = json.loads((scores / "config.json").read_text())
    assert config["experiment"] == "evaluate" and config["run"] == str(out)
    assert config["groups"] == ["tiger"] and config["episodes"] == 2


def test_train_pettingzoo_with_the_example_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("examples", None)
    out = tmp_path / "crowd"
    args = ["train", "pettingzoo", "--env", "examples.crowd:make_env", "--out", str(out)]
    args += ["--env-kwargs", '{"n_locals": 3, "n_tourists": 2, "max_cycles": 4}', *SHORT]
    assert main([*args[:-5], "--episodes", "3", "--learning-starts", "8", "--no-progress"]) == 0
    config = json.loads((out / "config.json").read_text())
    config["train"]["episodes"] = 5
    (out / "config.json").write_text(json.dumps(config))
    # a factory outside mfmarl, magent2 and pettingzoo must be named to be imported again
    assert main(["resume", str(out), "--no-progress"]) == 2
    assert main(["resume", str(out), "--env", "examples.crowd:make_env", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 5 and summary["resumed_from"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["magent2", "--env", "nope"], "invalid choice"),
        (["magent2", "--env", "tiger_deer", "--role", "wolf=mfq"], "no group wolf"),
        (["magent2", "--env", "tiger_deer", "--role", "deer=pool:tiger"], "another width"),
        (["magent2", "--env", "tiger_deer", "--mean-field", "deer=own@x"], "not an integer"),
        (["magent2", "--env", "tiger_deer", "--mean-field", "deer=own+wolf"], "no group 'wolf'"),
        (["magent2", "--env", "tiger_deer", "--env-kwargs", "{oops"], "not JSON"),
        (["magent2", "--env", "tiger_deer", "--env-kwargs", '{"size": 3}'], "bad"),
        (["magent2", "--env", "tiger_deer", "--lr", "inf"], "not a finite number"),
        (["pettingzoo", "--env", "no_such_module:f"], "cannot import"),
        (["pettingzoo", "--env", "json:nothing"], "has no nothing"),
        (["pettingzoo", "--env", "json"], "MODULE:FACTORY"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, capsys, extra, message) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    assert main(["train", *extra, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_show_config_prints_the_generic_defaults_and_trains_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "magent2", "--env", "tiger_deer", "--env-kwargs", '{"max_cycles": 30}']
    assert main([*args, "--episodes", "10", "--role", "deer=random", "--show-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["roles"] == {"deer": "random", "tiger": "mfq"}
    assert list(shown["algorithms"]) == ["tiger"] and shown["episode_length_hint"] == 30
    # ε and β over the first half of 10 episodes of 30 steps
    assert shown["algorithms"]["tiger"]["epsilon_steps"] == 150
    assert shown["train"]["episodes"] == 10
    assert main([*args, "--no-progress"]) == 2  # training needs --out
    assert "--out DIR is required" in capsys.readouterr().err
