"""Train MF-Q on the crowd example, then compare it with random play.

Run from the repository root: ``python -m examples.train_crowd`` (about a minute on 2 cores).
"""

from __future__ import annotations

import mfmarl
from mfmarl.evaluation.matches import Arena, play_match
from mfmarl.evaluation.players import load_player


def main() -> None:
    run = mfmarl.train(
        "examples.crowd:make_env",
        env_kwargs={"n_locals": 20, "n_tourists": 20},
        algo="mfq",
        episodes=150,
        out="runs/crowd",
        force=True,
    )
    returns = {g: run.summary.final_metrics[f"{g}/episodic_return"] for g in ("locals", "tourists")}
    print(f"mean return per agent over the last 10% of episodes: {returns}")
    # the trained locals against locals playing at random, tourists trained in both cases
    policy = run.policy("locals")
    print(f"the locals' policy acts on {policy.network.__class__.__name__}")
    arena = Arena(run.spec.env, (("locals",), ("tourists",)), trust=True)
    match = play_match(arena, (run.player(), load_player("random")), ("mfq", "random"), 10, 0)
    print(f"mean reward per agent (A = trained, B = random): {match['mean_reward']}")


if __name__ == "__main__":
    main()
