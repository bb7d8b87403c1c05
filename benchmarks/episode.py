"""End to end: seconds per MF-Q training episode at the paper's setting, before and after.

    python benchmarks/episode.py [--algo mfq] [--episodes 3] [--repeats 2] [--before-rev REV]
                                 [--variants fp32:1 fp32:2 bf16:1 bf16:2] [--device cpu]

The paper's preset (``battle_preset(algo, "paper")``): 64 v 64 on 40 × 40, 400 steps, one
batch-64 Adam update per environment step after the first 1000 stored agent-transitions,
replay of 80,000. Each run trains ``--episodes`` episodes from scratch in a fresh process and
reports the last one (the replay's memory is warm by then, as for almost all of a 2000-episode
run). "before" is the same script run on the sources of ``--before-rev`` (the commit before
the performance work), "after" on this checkout; runs alternate, and the best of
``--repeats`` is kept. "before" and "after" use one torch thread and fp32; ``--variants``
(``precision:threads``) adds runs of this checkout with other settings, alternating with the
rest: two threads use both cores of an otherwise idle machine, bf16 is ``--precision bf16``
(a bfloat16 view encoder) and auto the default, which probes and takes bf16 only where the
hardware has it and it measures faster (each run records what it resolved to). Writes
``benchmarks/results/episode_<algo>.json``.

``--device cuda`` runs mfmarl and the plain loop with their networks on the GPU (the
environment, the replay and ``--threads`` stay on the CPU), skips "before" (whose sources
were measured on CPUs only) and writes ``episode_<algo>_cuda.json``.
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
PLAIN = "plain loop"

WORKER = """
import json, sys, time
import torch
algo, episodes, threads, precision = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
device = sys.argv[5] if len(sys.argv) > 5 else "cpu"
try:  # as the command line does, before torch starts its threads (older sources lack it)
    from mfmarl.training.runtime import tune_cpu_runtime
    tune_cpu_runtime()
except ImportError:
    pass
torch.set_num_threads(threads)
import dataclasses
try:  # this checkout: the one training loop
    from mfmarl.experiments.battle.preset import battle_preset, battle_spec
    from mfmarl.training.loop import train as train_loop
    from mfmarl.training.run import build_session
    battle, algo_config, train = battle_preset(algo, "paper")
    algo_config = dataclasses.replace(algo_config, precision=precision)  # auto: as a user's
    train = dataclasses.replace(train, episodes=episodes, device=device)
    spec = battle_spec(battle, algo_config, train)
    s = build_session(spec)
    metrics = train_loop(s.env, s.roles, s.learners, s.rules, spec.train)
    resolved = next(iter(s.learners.values())).precision
except ImportError:  # older sources (the "before" revision)
    from mfmarl.algorithms import make_learner
    from mfmarl.envs.battle import BattleEnv
    from mfmarl.training.battle import battle_obs_dim, battle_preset, train_battle
    battle, algo_config, train = battle_preset(algo, "paper")
    if precision != "fp32":
        algo_config = dataclasses.replace(algo_config, precision=precision)
    train = dataclasses.replace(train, episodes=episodes)
    env = BattleEnv(battle)
    learner = make_learner(algo_config, battle_obs_dim(env), env.n_actions, env.n_max, "cpu",
                           0, view_shape=env.view_shape)
    metrics = train_battle(env, learner, train)
    resolved = precision
out = [{"seconds": m["time/episode_seconds"], "steps": m["charts/episode_length"],
        "precision": resolved} for m in metrics]
print(json.dumps(out))
"""


def last_json(args: list[str], src: Path) -> list[dict]:
    """The JSON list a worker prints last; its stderr is shown when it fails."""
    python_path = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        args, env={**os.environ, "PYTHONPATH": python_path}, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"benchmark worker failed ({' '.join(args[:3])} ...):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_worker(
    src: Path,
    algo: str,
    episodes: int,
    threads: int = 1,
    precision: str = "fp32",
    device: str = "cpu",
) -> list[dict]:
    args = [sys.executable, "-c", WORKER, algo, str(episodes), str(threads), precision, device]
    return last_json(args, src)


def run_plain(episodes: int, threads: int, device: str = "cpu") -> list[dict]:
    script = Path(__file__).resolve().parent / "plain_loop.py"
    args = [sys.executable, str(script), "--episodes", str(episodes), "--threads", str(threads)]
    return last_json([*args, "--device", device], ROOT / "src")


def cpu_facts() -> dict:
    """The CPU model and the flags that decide the fast paths (AVX2/AVX-512/AMX)."""
    model, flags = "", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    keep = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))
    return {"model": model, "flags": keep}


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
    parser.add_argument(
        "--variants",
        nargs="*",
        default=[],
        metavar="PRECISION:THREADS",
        help="more runs of this checkout, e.g. fp32:2 bf16:1 bf16:2 auto:2 (auto: the default)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda"],
        help="where the networks of mfmarl and the plain loop run (cuda skips 'before')",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as the workers (recorded with the machine facts)
    with tempfile.TemporaryDirectory() as tmp:
        # name -> (sources, threads, precision)
        runs_of: dict[str, tuple[Path, int, str]] = {}
        wants_before = args.before_rev and args.device == "cpu"
        before = checkout_src(args.before_rev, Path(tmp)) if wants_before else None
        if before is not None:
            runs_of["before"] = (before, 1, "fp32")
        runs_of["after"] = (ROOT / "src", 1, "fp32")
        for variant in args.variants:
            precision, threads = variant.split(":")
            runs_of[f"after {precision}, {threads} threads"] = (
                ROOT / "src",
                int(threads),
                precision,
            )
        for threads in sorted({t for _, t, _ in runs_of.values()} if args.algo == "mfq" else ()):
            runs_of[f"{PLAIN}, {threads} thread(s)"] = (ROOT / "src", threads, PLAIN)
        best: dict[str, float] = {}
        runs: dict[str, list] = {k: [] for k in runs_of}
        for _ in range(args.repeats):
            for name, (src, threads, precision) in runs_of.items():
                if precision == PLAIN:
                    episodes = run_plain(args.episodes, threads, args.device)
                else:
                    episodes = run_worker(
                        src, args.algo, args.episodes, threads, precision, args.device
                    )
                runs[name].append(episodes)
                last = episodes[-1]["seconds"] * 400 / episodes[-1]["steps"]
                best[name] = min(best.get(name, float("inf")), last)
                print(f"  {name}: {last:.2f} s/episode", file=sys.stderr)
    reference = best.get("before")
    plain = {t: best[f"{PLAIN}, {t} thread(s)"] for _, t, p in runs_of.values() if p == PLAIN}
    vs_plain = {
        k: plain[t] / best[k] for k, (_, t, p) in runs_of.items() if p != PLAIN and t in plain
    }
    rows = [
        [
            k,
            v,
            v * PAPER_EPISODES / 3600,
            400 / v,
            reference / v if reference else float("nan"),
            vs_plain.get(k, float("nan")),
        ]
        for k, v in best.items()
    ]
    cpu = cpu_facts()
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
    print(
        f"episode ({args.algo}, paper preset, 64 v 64, 40x40, 400 steps, 1 update/step): "
        f"best of {args.repeats}; CPU {cpu['model']} ({' '.join(cpu['flags'])})"
        + (f"; networks on {gpu}" if gpu else "")
    )
    headers = ["code", "s/episode", "2000 ep (h)", "env steps/s", "vs before", "vs plain"]
    print(table(headers, rows))
    result = {
        "algo": args.algo,
        "cpu": cpu,
        "device": args.device,
        "gpu": gpu,
        "cpu_count": os.cpu_count(),
        "before_rev": args.before_rev if "before" in best else None,
        "seconds_per_episode": best,
        "projected_hours_2000_episodes": {k: v * PAPER_EPISODES / 3600 for k, v in best.items()},
        "speedup": best["before"] / best["after"] if "before" in best else None,
        "speedup_vs_plain_loop": vs_plain,
        "resolved_precision": {k: v[-1][-1].get("precision") for k, v in runs.items() if v},
        "plain_loop_seconds": {str(t): v for t, v in plain.items()},
        "runs": runs,
    }
    if result["speedup"]:
        print(f"speed-up: {result['speedup']:.2f}x")
    name = f"episode_{args.algo}" + ("_cuda" if args.device == "cuda" else "")
    print(f"wrote {write_result(name, result)}")
    return result


if __name__ == "__main__":
    main()
