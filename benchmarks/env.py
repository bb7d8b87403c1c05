"""Environment steps per second: the MAgent2 adapter against the raw engine and PettingZoo.

    python benchmarks/env.py [--team-sizes 64 256 1024 4096] [--steps 300] [--repeats 3]

One step moves every agent of both teams with uniform random actions (drawn before the
timing). Three paths on the same engine, timed in the same process, round-robin:

- raw: a ``magent2.GridWorld`` loop through its public methods: set actions, step, rewards,
  alive flags, observations, clear_dead. It keeps nothing (the engine reuses its observation
  buffers), so it is the least any wrapper can do.
- adapter: :class:`mfmarl.envs.magent2.MAgent2Env`, the generic MAgent2 adapter, on the
  Battle experiment's game (the same, plus fixed agent slots, positions, deaths, and each
  group's flat learner inputs, view and features in one fresh array the caller may keep).
- mirrored: the Battle experiment's env (:func:`make_battle_env`): the adapter with the right
  army's views flipped left to right, its actions permuted and the id bits zeroed, so that
  one network plays either side. Before the one training engine the trainer did this during
  its acting step (the acting benchmark carries it in both versions); the flip is a strided
  copy of 20-byte cells, about 20 µs more than a plain copy per 64-agent army.
- pettingzoo: :func:`mfmarl.experiments.battle.env.make_battle_parallel_env`, battle_v4's
  ``ParallelEnv`` (dicts keyed by agent) on the same engine config and layout.

Episodes are long enough that no reset falls inside a timed run. Writes
``benchmarks/results/env.json``.
"""

from __future__ import annotations

import argparse
import functools
import sys

import numpy as np
import torch
from common import battle_map_size, interleaved_best, table, write_result

from mfmarl.experiments.battle.env import BattleConfig, _add_armies, engine_config, make_battle_env


def raw_loop(config: BattleConfig, actions: np.ndarray) -> float:
    """Seconds of ``len(actions)`` raw engine steps; ``actions: (steps, 2, n)``."""
    import time

    import magent2

    engine = magent2.GridWorld(engine_config(config), map_size=config.map_size)
    handles = engine.get_handles()
    engine.reset()
    _add_armies(engine, handles, config)
    alive = [np.ones(actions.shape[2], dtype=bool) for _ in handles]
    start = time.perf_counter()
    for step in actions:
        for t, h in enumerate(handles):
            engine.set_action(h, step[t][alive[t]].astype(np.int32))
        engine.step()
        for t, h in enumerate(handles):
            engine.get_reward(h)
            now = engine.get_alive(h)
            engine.get_observation(h)
            alive[t][np.flatnonzero(alive[t])[~now]] = False
        engine.clear_dead()
    return time.perf_counter() - start


def adapter(config: BattleConfig, actions: np.ndarray, mirrored: bool = False) -> float:
    """Seconds of ``len(actions)`` steps of the generic adapter on Battle's game, or of the
    Battle experiment's mirrored env."""
    import dataclasses
    import time

    from mfmarl.envs.magent2 import MAgent2Env
    from mfmarl.experiments.battle.env import make_battle_parallel_env

    if mirrored:
        env = make_battle_env(**dataclasses.asdict(config))
    else:
        pz_env = make_battle_parallel_env(config)
        env = MAgent2Env(pz_env, end_when_empty=True, max_steps=config.max_steps)
    env.reset(0)
    start = time.perf_counter()
    for step in actions:
        env.step([step[0], step[1]])
    return time.perf_counter() - start


def pettingzoo(config: BattleConfig, actions: np.ndarray) -> float:
    import time

    from mfmarl.experiments.battle.env import make_battle_parallel_env

    env = make_battle_parallel_env(config)
    env.reset(seed=0)
    names = list(env.agents)
    start = time.perf_counter()
    for step in actions:
        flat = step.reshape(-1)
        live = env.agents
        index = {name: i for i, name in enumerate(names)}
        env.step({a: int(flat[index[a]]) for a in live})
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team-sizes", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--steps", type=int, default=300, help="steps per run at 64 v 64")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from mfmarl.training.runtime import tune_cpu_runtime

    tune_cpu_runtime()  # as the command line does (the same process for every path)
    torch.set_num_threads(1)
    rows, records = [], []
    for n in args.team_sizes:
        # fewer steps for bigger armies: about the same agent-steps per run
        steps = max(10, args.steps * 64 // n)
        map_size = 40 if n == 64 else battle_map_size(n)
        team_size = None if n == 64 else n
        config = BattleConfig(map_size=map_size, team_size=team_size, max_steps=steps + 1)
        actions = np.random.default_rng(0).integers(0, 21, (steps, 2, config.n_agents))
        paths = {
            name: functools.partial(run, config, actions)
            for name, run in (
                ("raw", raw_loop),
                ("adapter", adapter),
                ("mirrored", functools.partial(adapter, mirrored=True)),
                ("pettingzoo", pettingzoo),
            )
        }
        best = interleaved_best(paths, args.repeats)
        sps = {k: steps / v for k, v in best.items()}
        record = {
            "team_size": config.n_agents,
            "map_size": map_size,
            "steps": steps,
            "steps_per_second": sps,
            "adapter_vs_raw": sps["adapter"] / sps["raw"],
            "adapter_vs_pettingzoo": sps["adapter"] / sps["pettingzoo"],
            "mirrored_vs_raw": sps["mirrored"] / sps["raw"],
        }
        records.append(record)
        rows.append(
            [
                f"{config.n_agents} v {config.n_agents}",
                map_size,
                sps["raw"],
                sps["adapter"],
                sps["mirrored"],
                sps["pettingzoo"],
                record["adapter_vs_raw"],
                record["adapter_vs_pettingzoo"],
                record["mirrored_vs_raw"],
            ]
        )
        print(f"  {n} per team done", file=sys.stderr)
    headers = [
        "teams",
        "map",
        "raw st/s",
        "adapter st/s",
        "mirrored st/s",
        "PZ st/s",
        "adp/raw",
        "adp/PZ",
        "mir/raw",
    ]
    print(f"env: steps/s, uniform random actions, best of {args.repeats} interleaved runs")
    print(table(headers, rows))
    result = {"repeats": args.repeats, "rows": records}
    print(f"wrote {write_result('env', result)}")
    return result


if __name__ == "__main__":
    main()
