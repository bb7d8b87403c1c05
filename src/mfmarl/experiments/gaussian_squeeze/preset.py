"""Preset settings per experiment: the defaults a run starts from before CLI overrides.

Gaussian Squeeze (docs/method.md, "Gaussian Squeeze"). One preset for every N, µ and σ: the
values below are either constants or follow one rule in N, written out in
:func:`gaussian_squeeze_preset`. Every algorithm gets the same care: the same per-agent
parameters, initial policy, reward normalisation, optimizer, exploration, replay, policy speed
and budget. What differs is only what defines the algorithm (ā input or not; Boltzmann policy
or actor).

Why these settings (measured over N = 50…5000 and several µ, σ; docs/gaussian_squeeze.md):

- Per-agent parameters: with one shared Q the whole population moves in lockstep and its
  policy collapses onto one action (x jumps in multiples of N).
- ``initial_preference=2``: initial logits −2·a (mean action ≈ 0.16), so x starts below x* for
  large N, where G is positive and increasing on the way up; uniform play gives x ≈ 4.5 N, where
  for N ≥ 500 the reward underflows to zero and nothing can be learned.
- Reward centering and scaling: Q, β and the actor's step are in units of the current reward
  level, so one setting serves reward scales from 1e-17 to 1e3. The scale never drops below the
  current batch's level: in a narrow Gaussian's tail G grows by orders of magnitude while x
  climbs, and a lagging average alone inflated the rewards (and the policy's step) until x shot
  past the bump into the region where G underflows (σ = 50 failed every seed that way).
- A dueling Q with ā in the value stream only, fitted at the realised ā: V(ā) explains the
  reward change caused by the other agents (a control variate); A(a) carries the agent's own
  effect, and the policy is not shaken by the round-to-round noise of ā.
- Plain SGD (per-agent tables with rarely taken actions jump by a full step under Adam) and a
  short replay (64 rounds): the population moves, so old rounds describe a Q that no longer
  holds, and a long replay lags the fit (with 200 rounds, σ = 50 overshot and never returned).
- β from 700 to 3000 over two thirds of the run: the end point sets how close the Boltzmann
  equilibrium sits to x* (the agents stop where β·slope of G balances the policy they need; at
  N = 5000, β = 1000 left x ≈ 485, 0.946 G*); the lower start keeps early estimates, which are
  noisy at large N, from driving the policy.

The rules in N (the population-gain problem): one agent's action moves x by 1, but a common
change of every agent's policy moves x by N times as much. So

- ``act_tau = 0.3 / N`` (0.003 at N = 100): the policy that acts follows the fitted Q at a rate
  that makes the *population's* mean move at the same speed in x at every N. With a constant
  0.003, N = 2000 reached G* by episode 54 and then overshot past µ + 2.5σ, where G underflows
  and nothing brings it back; with 3x the rate, N = 1000 did the same in one seed of two.
- ``actor_lr = 1000 / N`` (MF-AC, AC): the same rule for an actor, whose logits are the policy
  (it acts itself, ``act_tau = 1``). Its step is the natural gradient of a softmax table: each
  logit moves by its advantage Q(a) − V. The plain ("expected") gradient scales each logit's
  step by π(a), so actions that the initial policy makes unlikely never catch up: with it both
  actor-critics stayed near x ≈ 200 (0.2 G*) at N = 100 whatever the learning rate.
- ``ε = 1 / N``: on average one agent per round plays a uniform random action, so exploration
  shifts x by a fixed ≈ 4.5 − mean action at every N, and every agent still tries every action
  now and then. Without it, actions that were never tried kept their initial (low) value, and
  N = 50 and N = 100 locked in below x* (0.17 and 0.80 G*), depending on the seed.
"""

from __future__ import annotations

from typing import Any

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import require, require_choice
from mfmarl.training.loop import TrainConfig

SCALES: tuple[str, ...] = ("quick", "paper")
GAUSSIAN_SQUEEZE_EPISODES = {"quick": 4000, "paper": 8000}
SQUEEZE_METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "mfq": ("mfq", {}),
    "mfq-adv": ("mfq", {"mean_action_stream": "both"}),
    "mfac": ("mfac", {}),
    "iql": ("iql", {}),
    "iac": ("iac", {}),
}
"""What the Gaussian Squeeze reproduction compares: name -> (algorithm, settings on top of
its preset). ``mfq`` is the headline form (ā in the value stream only, so each agent's policy
softmax(β·A) does not depend on ā); ``mfq-adv`` is the paper's form, ā also in the advantage,
so the policy is a function of ā."""
POLICY_RATE = 0.3
"""``act_tau · N``: the acting copy's rate times the population size."""
ACTOR_RATE = 1000.0
"""``actor_lr · N`` for MF-AC and AC (natural gradient steps on the actor's logits)."""
EXPLORATION_AGENTS = 1.0
"""``ε · N``: agents per round that play a uniform random action, on average."""


def gaussian_squeeze_preset(
    algo: str, n_agents: int, scale: str, episodes: int | None = None
) -> tuple[AlgorithmConfig, TrainConfig]:
    """Default configs of a Gaussian Squeeze run for ``algo`` with ``n_agents`` agents.

    ``scale``: ``"quick"`` (4000 rounds) or ``"paper"`` (8000 rounds); ``episodes`` overrides
    the budget, and the β schedule follows it (two thirds of the run). The policy rate and ε
    follow N (module docstring): ``act_tau = 0.3/N``, ``ε = 1/N``.
    """
    require_choice("scale", scale, SCALES)
    require(n_agents > 0, f"n_agents={n_agents} must be > 0")
    episodes = episodes if episodes is not None else GAUSSIAN_SQUEEZE_EPISODES[scale]
    epsilon = min(1.0, EXPLORATION_AGENTS / n_agents)
    actor_critic = algo in ("mfac", "iac")
    algo_config = AlgorithmConfig(
        algo=algo,  # type: ignore[arg-type]
        parameter_sharing="per-agent",
        hidden=(),
        gamma=0.0,
        optimizer="sgd",
        lr=0.2,
        actor_lr=ACTOR_RATE / n_agents,
        actor_gradient="natural",
        beta_start=700.0,
        beta_end=3000.0,
        beta_steps=max(1, (2 * episodes) // 3),
        epsilon_start=epsilon,
        epsilon_end=epsilon,
        initial_preference=2.0,
        dueling=True,
        mean_action_stream="value",
        normalize_mean_action=True,
        reward_centering=True,
        reward_scaling=True,
        # the actor integrates its own steps: it acts itself, its rate is actor_lr
        act_tau=1.0 if actor_critic else min(1.0, POLICY_RATE / n_agents),
        mean_action_timing="realised",
    )
    # 16 rounds of every agent per update, from the last 64 rounds
    train_config = TrainConfig(
        episodes=episodes, batch_size=16 * n_agents, buffer_size=64 * n_agents
    )
    return algo_config, train_config
