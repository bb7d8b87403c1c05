"""The README's quick start and its Python example stay true."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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
    code = re.search(r"```python\n(.*?)```", _section("Your own environment"), re.S)
    assert code
    # Same example, smaller: 4 + 4 agents and 3 episodes keep the test fast.
    source = (
        code.group(1)
        .replace('"n_locals": 20, "n_tourists": 20', '"n_locals": 4, "n_tourists": 4')
        .replace("episodes=150", "episodes=3")
    )
    assert source != code.group(1)
    monkeypatch.syspath_prepend(str(ROOT))
    sys.modules.pop("examples", None)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)
    assert namespace["run"].summary.episodes == 3
    assert (tmp_path / "runs" / "crowd" / "checkpoint" / "locals" / "model.safetensors").is_file()
    assert namespace["policy"].n_actions == 4
