"""Acting overhead: the full MF-Q acting step against its unavoidable parts measured alone.

    python benchmarks/acting.py [--team-size 64] [--steps 200] [--repeats 3]

Full step: the trainer's own loop (:func:`mfmarl.training.loop.train` with updates
switched off by an unreachable ``learning_starts``): learner inputs of both teams (team 1
mirrored), one batched forward pass per team, sampling, one engine step through the
adapter, the realised mean actions and two replay inserts. Parts alone, summed: a raw
``magent2.GridWorld`` loop of the same length (see ``env.py``) plus the same two forward
passes of the acting network on inputs of the same shape (in the same chunks of at most
``ACT_CHUNK`` agents that the learner uses). The preset's ε starts at 1, so
both loops play uniform random actions.

Evaluation: ``mfmarl battle``'s rollout (:func:`mfmarl.evaluation.matches.rollout`) with the
same network playing both teams through its evaluation policy, per step; the issue's bar is
that evaluating costs no more per step than training's acting step. Writes
``benchmarks/results/acting.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from common import battle_map_size, battle_session, interleaved_best, table, write_result
from env import raw_loop

from mfmarl.algorithms.base import ACT_CHUNK
from mfmarl.experiments.battle.env import BattleConfig


def battle_for(team_size: int, steps: int) -> BattleConfig:
    """The paper's map at 64 per team, a just-big-enough one otherwise."""
    if team_size == 64:
        return BattleConfig(map_size=40, max_steps=steps)
    return BattleConfig(map_size=battle_map_size(team_size), team_size=team_size, max_steps=steps)


def acting_loop(battle: BattleConfig, algo: str = "mfq", episodes: int = 2) -> float:
    """Seconds per step of the trainer's acting loop (the last of ``episodes`` episodes)."""
    # a replay of one episode, so that the measured episode writes into warm memory
    session = battle_session(
        algo,
        battle,
        episodes=episodes,
        learning_starts=10**12,
        buffer_size=2 * battle.n_agents * battle.max_steps,
        opponent="self",
    )
    metrics = list(session.run())[-1]
    return metrics["time/episode_seconds"] / metrics["charts/episode_length"]


def forwards_alone(battle: BattleConfig, algo: str = "mfq", steps: int = 50) -> float:
    """Seconds of the acting network's two team forward passes per step."""
    session = battle_session(algo, battle)
    learner = next(iter(session.learners.values()))
    net = learner.acting_network()
    n, d = battle.n_agents, learner.n_actions
    obs = torch.rand(2, 1, n, learner.obs_dim)
    mean = torch.rand(2, 1, n, d)
    args = lambda t: (obs[t], mean[t])  # noqa: E731
    chunks = [slice(s, s + ACT_CHUNK) for s in range(0, n, ACT_CHUNK)]  # as Learner.act

    def forward(t: int) -> None:
        for c in chunks:
            net(*(a[:, c] for a in args(t)))

    with torch.no_grad():
        for t in (0, 1):
            forward(t)
        start = time.perf_counter()
        for _ in range(steps):
            for t in (0, 1):
                forward(t)
    return (time.perf_counter() - start) / steps


def evaluation_loop(battle: BattleConfig, algo: str = "mfq") -> float:
    """Seconds per step of an evaluation round: one network plays both teams."""
    from mfmarl.evaluation.matches import rollout
    from mfmarl.evaluation.players import Player

    session = battle_session(algo, battle, opponent="self")
    learner = next(iter(session.learners.values()))
    env = session.env
    player = Player("bench", learners={g.name: learner for g in env.groups})
    actors = [player.actor(env, g, seed=0) for g in range(len(env.groups))]
    rollout(env, actors, 0)  # warm up
    start = time.perf_counter()
    rollout(env, actors, 1)
    return (time.perf_counter() - start) / max(env.steps, 1)


def measure(team_size: int, steps: int, repeats: int) -> dict:
    battle = battle_for(team_size, steps)
    actions = np.random.default_rng(0).integers(0, 21, (steps, 2, battle.n_agents))
    paths = {
        "acting": lambda: acting_loop(battle),
        "engine": lambda: (
            raw_loop(dataclasses.replace(battle, max_steps=steps + 1), actions) / steps
        ),
        "forward": lambda: forwards_alone(battle, steps=min(steps, 50)),
        "evaluation": lambda: evaluation_loop(battle),
    }
    best = interleaved_best(paths, repeats)
    parts = best["engine"] + best["forward"]
    return {
        "team_size": battle.n_agents,
        "map_size": battle.map_size,
        "steps": steps,
        "seconds_per_step": best,
        "parts_seconds_per_step": parts,
        "acting_overhead": best["acting"] / parts,
        "evaluation_vs_acting": best["evaluation"] / best["acting"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    record = measure(args.team_size, args.steps, args.repeats)
    s = record["seconds_per_step"]
    rows = [
        [
            f"{record['team_size']} v {record['team_size']}",
            1e3 * s["acting"],
            1e3 * s["engine"],
            1e3 * s["forward"],
            1e3 * record["parts_seconds_per_step"],
            record["acting_overhead"],
            1e3 * s["evaluation"],
            record["evaluation_vs_acting"],
        ]
    ]
    headers = ["teams", "acting ms", "engine ms", "2 fwd ms", "parts ms", "overhead"]
    headers += ["eval ms", "eval/acting"]
    print(f"acting (MF-Q): ms per step, best of {args.repeats} interleaved runs")
    print(table(headers, rows))
    result = {"repeats": args.repeats, **record}
    print(f"wrote {write_result('acting', result)}")
    return result


if __name__ == "__main__":
    main()
