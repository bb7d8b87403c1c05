"""The README's quick start and its Python example stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", _section("Quick start"), re.S)
    assert len(blocks) == 1
    assert blocks[0].split("\n")[:-1] == ["make demo", "make test"]


def test_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(r"```python\n(.*?)```", _section("Python API"), re.S)
    assert code
    # Same example, smaller: 20 agents and 20 episodes keep the test fast.
    source = (
        code.group(1).replace("n_agents=100", "n_agents=20").replace("episodes=200", "episodes=20")
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)
    assert namespace["summary"].episodes == 20
    assert (tmp_path / "runs" / "api-example" / "checkpoint" / "model.safetensors").is_file()
    assert type(namespace["learner"]).__name__ in {"MeanFieldQ", "MeanFieldActorCritic"}
