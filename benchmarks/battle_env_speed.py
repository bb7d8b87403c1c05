"""Environment steps per second of the Battle paths, random actions (no learning).

    .venv/bin/python benchmarks/battle_env_speed.py [--map-size 40] [--steps 2000]

Compares a raw ``magent2.GridWorld`` loop (set actions, step, rewards, alive flags,
observations, clear_dead: the least any wrapper must do), :class:`mfmarl.envs.BattleEnv`
(the same plus copies into fixed slot arrays) and PettingZoo ``battle_v4.parallel_env``
(dicts of per-agent arrays). One step moves every agent of both teams.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch  # noqa: F401 - before magent2, which sets OMP_NUM_THREADS on import
from magent2.environments import battle_v4

from mfmarl.envs.battle import BattleConfig, BattleEnv, engine_config


def raw_loop(config: BattleConfig, steps: int, rng: np.random.Generator) -> float:
    import magent2

    from mfmarl.envs.battle import _add_armies

    engine = magent2.GridWorld(engine_config(config), map_size=config.map_size)
    handles = engine.get_handles()
    done, t = True, 0
    start = time.perf_counter()
    for _ in range(steps):
        if done:
            engine.reset()
            _add_armies(engine, handles, config)
            t = 0
        for h in handles:
            engine.set_action(h, rng.integers(0, 21, engine.get_num(h)).astype(np.int32))
        engine.step()
        for h in handles:
            engine.get_reward(h)
            engine.get_alive(h)
            engine.get_observation(h)
        engine.clear_dead()
        t += 1
        done = t >= config.max_steps or min(engine.get_num(h) for h in handles) == 0
    return steps / (time.perf_counter() - start)


def adapter(config: BattleConfig, steps: int, rng: np.random.Generator) -> float:
    env = BattleEnv(config)
    start = time.perf_counter()
    done = True
    for _ in range(steps):
        if done:
            env.reset()
        result = env.step(rng.integers(0, 21, env.n_max), rng.integers(0, 21, env.n_max))
        done = result.done
    return steps / (time.perf_counter() - start)


def pettingzoo(config: BattleConfig, steps: int, rng: np.random.Generator) -> float:
    env = battle_v4.parallel_env(map_size=config.map_size, max_cycles=config.max_steps)
    start = time.perf_counter()
    for _ in range(steps):
        if not env.agents:
            env.reset()
        actions = dict(zip(env.agents, rng.integers(0, 21, len(env.agents)).tolist()))
        env.step(actions)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map-size", type=int, default=40)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = BattleConfig(map_size=args.map_size)
    paths: dict[str, Callable[[BattleConfig, int, np.random.Generator], float]] = {
        "raw GridWorld loop": raw_loop,
        "BattleEnv adapter": adapter,
        "PettingZoo battle_v4": pettingzoo,
    }
    n = config.n_agents
    print(
        f"map {args.map_size}, {n} v {n}, random actions, {args.steps} steps, best of "
        f"{args.repeats}; torch threads {torch.get_num_threads()}"
    )
    print(f"{'path':<24}{'steps/s':>10}{'agent-steps/s':>16}")
    for name, run in paths.items():
        best = max(run(config, args.steps, np.random.default_rng(r)) for r in range(args.repeats))
        print(f"{name:<24}{best:>10.0f}{best * 2 * n:>16.0f}")


if __name__ == "__main__":
    main()
