"""Shared helpers of the benchmark scripts: timing, tables, machine facts, JSON results.

Every script measures a figure and its baseline in the same process, interleaving their
repeats, and reports the ratio: on a shared, noisy machine only ratios measured together are
comparable.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import

RESULTS = Path(__file__).resolve().parent / "results"


def seconds(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved_best(paths: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """Run every path ``repeats`` times, round-robin, and keep each one's best (lowest) value.

    Each callable returns its own measured seconds (so setup can stay outside the timing).
    The minimum is the least disturbed by other processes on the machine. One untimed round
    comes first (lazy initialisation: the engine's OpenMP pool, torch's kernels, imports).
    """
    for run in paths.values():
        run()
    best = {name: float("inf") for name in paths}
    for _ in range(repeats):
        for name, run in paths.items():
            best[name] = min(best[name], run())
    return best


def growth_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of ``log t`` against ``log n``: ``t ∝ n^slope``."""
    slope, _ = np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float)), 1)
    return float(slope)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table; floats get 3 significant digits (4 for ratios below 10)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 10 else f"{value:,.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` (with the machine facts) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def battle_map_size(team_size: int) -> int:
    """Smallest map on which the battle layout places ``team_size`` agents per side (the
    armies' squares, the gap between them and a border), never below the paper's 40."""
    side = 2 * int(np.ceil(np.sqrt(team_size)))
    return max(40, 2 * (side + 3) + 4)


def battle_session(
    algo: str = "mfq",
    battle: Any = None,
    algo_overrides: dict[str, Any] | None = None,
    **train: Any,
) -> Any:
    """The learner, environment, roles and ā rules of a Battle run of the paper preset
    (``battle`` and ``train`` fields replace the preset's; the device is the CPU unless
    ``train`` names one), built as the trainer builds them; ``.run()`` on the result yields
    its episodes' metrics."""
    import dataclasses

    from mfmarl.experiments.battle.preset import battle_preset, battle_spec
    from mfmarl.training.loop import train as train_loop
    from mfmarl.training.run import build_session

    preset_battle, algo_config, train_config = battle_preset(algo, "paper")
    # fp32 unless asked: the benchmarks compare with fp32 baselines (raw engine, bare torch)
    overrides = {"precision": "fp32", **(algo_overrides or {})}
    algo_config = dataclasses.replace(algo_config, **overrides)
    train_config = dataclasses.replace(train_config, **{"device": "cpu", **train})
    spec = battle_spec(battle or preset_battle, algo_config, train_config)
    session = build_session(spec)
    session.run = lambda: train_loop(  # type: ignore[attr-defined]
        session.env, session.roles, session.learners, session.rules, spec.train
    )
    return session
