"""Preset settings per experiment: the defaults a run starts from before CLI overrides.

Gaussian Squeeze (method.md 6.1). Every algorithm gets the same care: the same per-agent
parameters, initial policy, reward normalisation, optimizer, schedules and budget. What differs
is only what defines the algorithm (ā input or not; Boltzmann policy or actor).

Why these settings (each measured on µ = 400, σ = 200, N = 100…1000 and a few other µ, σ):
- per-agent parameters: with one shared Q the whole population moves in lockstep and its
  policy collapses onto one action (x jumps in multiples of N).
- ``initial_preference=2``: initial logits −2·a (mean action ≈ 0.15), so x starts below x* and
  G is positive and increasing on the way up; uniform play gives x ≈ 4.5 N, where for
  N ≥ 500 the reward is exactly zero and nothing can be learned.
- reward centering and scaling: Q, β and the actor's step are in units of the current reward
  level, so one setting serves reward scales from 1e-10 to 1e3.
- a dueling Q with ā in the value stream only, fitted at the realised ā: V(ā) explains the
  reward change caused by the other agents (a control variate); A(a) carries the agent's own
  effect, and the policy is not shaken by the round-to-round noise of ā.
- plain SGD (per-agent tables with rarely taken actions jump by a full step under Adam) and a
  slowly soft-updated acting copy (``act_tau``): the population's response to a common signal
  is amplified by ≈ N·β·Var(a)·|G''|, so the policy must move slowly relative to the fit.
- β annealed from 700 to 1000 over two thirds of the run: early on more actions are tried, so
  each agent's own effect is identifiable; at the end the policy is sharp enough for N = 1000
  (mean action 0.445) to sit within about 1% of G*. The initial preference lives in Q, so
  annealing by a larger factor sharpens it on actions that are no longer tried: 100→1000
  left N = 100 stuck near 0.5 G*, 500→1500 left one seed in three near 0.89 G*.
"""

from __future__ import annotations

from mfmarl.algorithms import AlgorithmConfig
from mfmarl.core.errors import require_choice
from mfmarl.training.loop import TrainConfig

SCALES: tuple[str, ...] = ("quick", "paper")
GAUSSIAN_SQUEEZE_EPISODES = {"quick": 4000, "paper": 8000}


def gaussian_squeeze_preset(
    algo: str, n_agents: int, scale: str, episodes: int | None = None
) -> tuple[AlgorithmConfig, TrainConfig]:
    """Default configs of a Gaussian Squeeze run for ``algo`` with ``n_agents`` agents.

    ``scale``: ``"quick"`` (4000 rounds) or ``"paper"`` (8000 rounds); ``episodes`` overrides
    the budget, and the β schedule follows it (two thirds of the run).
    """
    require_choice("scale", scale, SCALES)
    episodes = episodes if episodes is not None else GAUSSIAN_SQUEEZE_EPISODES[scale]
    actor_critic = algo in ("mfac", "iac")
    algo_config = AlgorithmConfig(
        algo=algo,  # type: ignore[arg-type]
        parameter_sharing="per-agent",
        hidden=(),
        gamma=0.0,
        optimizer="sgd",
        lr=0.2,
        actor_lr=20.0,
        actor_gradient="expected",
        beta_start=700.0,
        beta_end=1000.0,
        beta_steps=max(1, (2 * episodes) // 3),
        initial_preference=2.0,
        dueling=True,
        mean_action_stream="value",
        normalize_mean_action=True,
        reward_centering=True,
        reward_scaling=True,
        act_tau=1.0 if actor_critic else 0.003,
        mean_action_timing="realised",
    )
    train_config = TrainConfig(episodes=episodes, batch_size=16, buffer_size=200)
    return algo_config, train_config
