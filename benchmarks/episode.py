"""End to end: seconds per MF-Q training episode at the paper's setting, before and after.

    python benchmarks/episode.py [--algo mfq] [--episodes 3] [--repeats 2] [--before-rev REV]

The paper's preset (``battle_preset(algo, "paper")``): 64 v 64 on 40 × 40, 400 steps, one
batch-64 Adam update per environment step after the first 1000 stored agent-transitions,
replay of 80,000. Each run trains ``--episodes`` episodes from scratch in a fresh process and
reports the last one (the replay's memory is warm by then, as for almost all of a 2000-episode
run). "before" is the same script run on the sources of ``--before-rev`` (the commit before
the performance work), "after" on this checkout; runs alternate, and the best of
``--repeats`` is kept. Writes ``benchmarks/results/episode.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import table, write_result

ROOT = Path(__file__).resolve().parent.parent
BEFORE_REV = "df18131"
"""main just before the performance work (issue 8)."""
PAPER_EPISODES = 2000

WORKER = """
import json, sys, time
import torch
torch.set_num_threads(1)
from mfmarl.algorithms import make_learner
from mfmarl.envs.battle import BattleEnv
from mfmarl.training.battle import battle_obs_dim, battle_preset, train_battle
import dataclasses
algo, episodes = sys.argv[1], int(sys.argv[2])
battle, algo_config, train = battle_preset(algo, "paper")
train = dataclasses.replace(train, episodes=episodes)
env = BattleEnv(battle)
learner = make_learner(algo_config, battle_obs_dim(env), env.n_actions, env.n_max, "cpu", 0,
                       view_shape=env.view_shape)
out = [{"seconds": m["time/episode_seconds"], "steps": m["charts/episode_length"]}
       for m in train_battle(env, learner, train)]
print(json.dumps(out))
"""


def run_worker(src: Path, algo: str, episodes: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, algo, str(episodes)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def checkout_src(rev: str, into: Path) -> Path | None:
    """``src/`` of ``rev`` extracted into ``into`` (None when git cannot provide it)."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return into / "src"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="mfq", choices=["mfq", "mfac", "iql", "iac"])
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before-rev", default=BEFORE_REV, help="'' to skip 'before'")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the workers (recorded with the machine facts)
    with tempfile.TemporaryDirectory() as tmp:
        sources = {"after": ROOT / "src"}
        before = checkout_src(args.before_rev, Path(tmp)) if args.before_rev else None
        if before is not None:
            sources = {"before": before, **sources}
        best: dict[str, float] = {}
        runs: dict[str, list] = {k: [] for k in sources}
        for _ in range(args.repeats):
            for name, src in sources.items():
                episodes = run_worker(src, args.algo, args.episodes)
                runs[name].append(episodes)
                last = episodes[-1]["seconds"] * 400 / episodes[-1]["steps"]
                best[name] = min(best.get(name, float("inf")), last)
                print(f"  {name}: {last:.2f} s/episode", file=sys.stderr)
    rows = [[k, v, v * PAPER_EPISODES / 3600, 400 / v] for k, v in best.items()]
    print(
        f"episode ({args.algo}, paper preset, 64 v 64, 40x40, 400 steps, 1 update/step): "
        f"best of {args.repeats}"
    )
    print(table(["code", "s/episode", "2000 ep (h)", "env steps/s"], rows))
    result = {
        "algo": args.algo,
        "before_rev": args.before_rev if "before" in best else None,
        "seconds_per_episode": best,
        "projected_hours_2000_episodes": {k: v * PAPER_EPISODES / 3600 for k, v in best.items()},
        "speedup": best["before"] / best["after"] if "before" in best else None,
        "runs": runs,
    }
    if result["speedup"]:
        print(f"speed-up: {result['speedup']:.2f}x")
    print(f"wrote {write_result(f'episode_{args.algo}', result)}")
    return result


if __name__ == "__main__":
    main()
