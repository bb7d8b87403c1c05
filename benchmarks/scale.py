"""Scale: mean actions and the acting step from 10² to 10⁴ agents per team; replay bytes.

    python benchmarks/scale.py [--sizes 100 316 1000 3162 10000] [--repeats 3]

- Mean action, team (every teammate) and radius (Chebyshev radius 6, a summed-area table on
  the grid), for ``n`` agents per team at the battle layout's density (positions drawn at
  random on the map that fits ``n``; a quarter of the agents dead).
- Acting step of MF-Q (see ``acting.py``: the trainer's loop with updates off) at ``n`` per
  team on the map that fits them; also the process's peak resident memory after it.
- Growth exponent: least-squares slope of log(time) against log(n) over all sizes.
- Replay memory: peak traced allocation (tracemalloc) of building, filling and sampling a
  64-agent :class:`~mfmarl.buffers.AgentReplay` of Battle inputs, per stored
  agent-transition, with plain float32 observations and with the compact (uint8) columns.

Writes ``benchmarks/results/scale.json`` and ``benchmarks/results/scale.png``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np
import torch
from acting import acting_loop, battle_for
from common import RESULTS, battle_map_size, growth_exponent, table, write_result

from mfmarl.buffers import AgentReplay
from mfmarl.core.mean_action import radius_mean_action, team_mean_action
from mfmarl.experiments.battle.env import make_battle_env

N_ACTIONS = 21


def mean_action_seconds(n: int, repeats: int) -> dict[str, float]:
    """Best seconds of one team's ā (team, radius 6) at ``n`` agents."""
    rng = np.random.default_rng(n)
    size = battle_map_size(n)
    actions = rng.integers(0, N_ACTIONS, n)
    alive = rng.random(n) > 0.25
    positions = rng.integers(1, size - 1, (n, 2))
    calls = max(3, 20_000 // n)
    out = {}
    for name, fn in (
        ("team", lambda: team_mean_action(actions, alive, N_ACTIONS)),
        (
            "radius",
            lambda: radius_mean_action(
                actions, alive, positions, 6, N_ACTIONS, grid_shape=(size, size)
            ),
        ),
    ):
        fn()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            best = min(best, (time.perf_counter() - start) / calls)
        out[name] = best
    return out


def replay_bytes(compact: bool, capacity: int = 200) -> dict[str, float]:
    """Peak traced bytes per agent-transition of a full 64-agent Battle replay."""
    env = make_battle_env(map_size=40)
    obs = env.reset(0)
    inputs = obs[0].obs
    spec = env.groups[0]
    n = spec.n_slots
    columns = spec.binary_mask() if compact else None
    rng = np.random.default_rng(0)
    tracemalloc.start()
    replay = AgentReplay(capacity, n, (spec.obs_dim,), N_ACTIONS, binary_columns=columns)
    mean = np.full((n, N_ACTIONS), 1 / N_ACTIONS, dtype=np.float32)
    zeros = np.zeros(n, dtype=np.float32)
    for _ in range(capacity):
        replay.add(inputs, np.zeros(n, int), mean, zeros, inputs, mean, zeros, zeros + 1)
    replay.sample(1, rng)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stored = capacity * n
    return {
        "peak_bytes_per_agent_transition": peak / stored,
        "array_bytes_per_agent_transition": replay.bytes_per_agent_transition,
        "compact": replay.obs.compact,
    }


def plot(sizes: list[int], series: dict[str, list[float]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, times in series.items():
        slope = growth_exponent(sizes, times)
        ax.loglog(sizes, np.asarray(times) * 1e3, "o-", label=f"{name} (slope {slope:.2f})")
    ref = np.asarray(sizes, float)
    base = series["acting step"][0] * 1e3
    ax.loglog(ref, base * ref / ref[0], "k:", lw=1, label="linear")
    ax.set_xlabel("agents per team")
    ax.set_ylabel("milliseconds per call / step")
    ax.set_title("Growth with the number of agents (1 CPU thread)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 316, 1000, 3162, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--agent-steps", type=int, default=20_000, help="agent-steps per acting episode"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sizes = sorted(args.sizes)
    team, radius, acting, rss = [], [], [], []
    for n in sizes:
        ma = mean_action_seconds(n, args.repeats)
        team.append(ma["team"])
        radius.append(ma["radius"])
        steps = max(3, args.agent_steps // n)
        acting.append(
            min(acting_loop(battle_for(n, steps)) for _ in range(max(1, args.repeats - 1)))
        )
        rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        print(f"  {n} per team: acting {acting[-1] * 1e3:.1f} ms/step", file=sys.stderr)
    exponents = {
        "mean_action_team": growth_exponent(sizes, team),
        "mean_action_radius": growth_exponent(sizes, radius),
        "acting": growth_exponent(sizes, acting),
    }
    replay = {"plain": replay_bytes(False), "compact": replay_bytes(True)}
    rows = [
        [n, 1e6 * t, 1e6 * r, 1e3 * a, a / n * 1e6, m / 2**20]
        for n, t, r, a, m in zip(sizes, team, radius, acting, rss)
    ]
    headers = ["n/team", "ā team µs", "ā radius µs", "acting ms", "µs/agent", "peak RSS MiB"]
    print(f"scale: best of {args.repeats}; exponents (slope of log t on log n):")
    print(table(headers, rows))
    print("exponents: " + ", ".join(f"{k} {v:.3f}" for k, v in exponents.items()))
    print(
        table(
            ["replay", "peak B/agent-transition", "array B/agent-transition"],
            [
                [k, v["peak_bytes_per_agent_transition"], v["array_bytes_per_agent_transition"]]
                for k, v in replay.items()
            ],
        )
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = RESULTS / "scale.png"
    plot(
        sizes,
        {"ā team": team, "ā radius 6": radius, "acting step": acting},
        str(png),
    )
    result = {
        "repeats": args.repeats,
        "sizes": sizes,
        "seconds": {"mean_action_team": team, "mean_action_radius": radius, "acting": acting},
        "peak_rss_bytes": rss,
        "exponents": exponents,
        "mean_action_exponent": max(exponents["mean_action_team"], exponents["mean_action_radius"]),
        "acting_exponent": exponents["acting"],
        "replay": replay,
        "plot": str(png.relative_to(RESULTS.parent.parent)),
    }
    print(f"wrote {write_result('scale', result)} and {png}")
    return result


if __name__ == "__main__":
    main()
