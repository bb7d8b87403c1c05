"""The settings of a learner: one validated, frozen dataclass for all four algorithms.

Fields are grouped by what reads them: the networks (``hidden``, ``dueling``,
``mean_action_stream``, ``normalize_mean_action``, ``precision``), the optimizers (``optimizer``,
``lr``, ``actor_lr``, ``grad_clip``, ``advantage_decay``), the targets (``gamma``,
``value_target``, ``target_tau``), acting (``beta_*``, ``epsilon_*``, ``act_tau``,
``initial_preference``), the mean action (``mean_action_timing``, ``initial_mean_action``),
rewards (``reward_*``) and the actor (``actor_*``, ``entropy_coef``). Every field is also a
command-line option with its docstring as help.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from mfmarl.core.errors import (
    MAX_STEPS,
    MAX_WIDTH,
    ConfigError,
    require,
    require_choice,
    require_int_in,
)
from mfmarl.networks import PRECISIONS

Algo = Literal["mfq", "mfac", "iql", "iac"]
ALGORITHMS: tuple[str, ...] = ("mfq", "mfac", "iql", "iac")
ALGORITHM_NAMES = {"mfq": "MF-Q", "mfac": "MF-AC", "iql": "IL", "iac": "AC"}


@dataclass(frozen=True)
class AlgorithmConfig:
    """Hyper-parameters of a learner. Defaults suit small problems; presets override them."""

    algo: Algo = "mfq"
    """Learner: mfq (MF-Q), mfac (MF-AC), iql (independent Q-learning), iac (independent AC)."""
    parameter_sharing: Literal["shared", "per-agent"] = "shared"
    """shared: one set of parameters for all agents; per-agent: each agent has its own."""
    hidden: tuple[int, ...] = (64,)
    """Hidden layer sizes of the Q-network / critic and of the actor."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Optimizer of every network. Plain SGD moves a parameter in proportion to its error, which
    suits per-agent tables whose rarely taken actions Adam would jump by a full step."""
    lr: float = 1e-3
    """Learning rate of the Q-network (the critic for mfac/iac)."""
    actor_lr: float = 1e-3
    """Learning rate of the actor (mfac/iac only)."""
    gamma: float = 0.95
    """Discount factor γ."""
    beta_start: float = 1.0
    """Inverse temperature β of the Boltzmann policy softmax(β·Q) at the start (mfq/iql)."""
    beta_end: float = 1.0
    """β at the end of its schedule (geometric interpolation)."""
    beta_steps: int = 0
    """Environment steps (or episodes, see schedule_unit) over which β moves from beta_start
    to beta_end."""
    epsilon_start: float = 0.0
    """Probability of a uniform random action at the start (ε-mixing on top of the policy)."""
    epsilon_end: float = 0.0
    """ε at the end of its linear schedule."""
    epsilon_steps: int = 0
    """Environment steps (or episodes, see schedule_unit) over which ε moves from
    epsilon_start to epsilon_end."""
    schedule_unit: Literal["steps", "episodes"] = "steps"
    """What beta_steps and epsilon_steps count: environment steps, or whole episodes (every
    episode moves ε and β by the same amount however long it lasts: where most episodes end
    early, a schedule in steps would still be exploring at the end of the run)."""
    target_tau: float = 0.01
    """Soft update rate of the target network: φ⁻ ← τφ + (1−τ)φ⁻ after each update."""
    act_tau: float = 1.0
    """Soft update rate of the acting copy of the policy (1.0: act with the current network).
    A small value makes the population's policy change slowly relative to the fit."""
    average_tau: float = 0.0
    """Rate of a Polyak average of the policy network kept for evaluation, φ̄ ← φ̄ + τ(φ − φ̄)
    after each update (Q-network for MF-Q/IL, actor for MF-AC/AC); trained players (battle,
    tournament, render) act with it. 0: no average, players act with the trained network.
    Training never uses it. Below τ = 1/128 the average moves every k-th update (k ≤ 16, at
    most 1/64 of its time constant 1/τ) by ``1 − (1 − τ)^k``, the same decay in fewer passes
    over the weights."""
    initial_preference: float = 0.0
    """Initial policy logits are −κ·a for action index a (κ = this value; 0 = uniform start).
    Applied identically to every algorithm."""
    value_target: Literal["mean_field", "max", "double"] = "mean_field"
    """Value of s' in the Q target: mean_field Σπ·Q⁻ (MF-Q), max (DQN) or double (double DQN)."""
    mean_action_timing: Literal["realised", "previous"] = "realised"
    """ā at which Q is fitted: realised (ā of step t, the paper's Algorithm 1) or previous
    (ā of step t−1, as the reference code)."""
    initial_mean_action: Literal["zeros", "uniform"] = "zeros"
    """ā used before any action has been taken (and for agents with no living neighbour)."""
    dueling: bool = True
    """Dueling Q head Q = V + A − mean(A): the reward level is shared by all actions."""
    mean_action_stream: Literal["both", "value"] = "both"
    """With dueling: both feeds ā to V and A; value feeds it to V only (a control variate that
    explains the other agents' effect on the reward without moving the action preferences)."""
    advantage_decay: float = 0.0
    """Weight decay on the advantage stream (with mean_action_stream=value): the preference for
    an action that is no longer tried fades back towards the average, so it is tried again."""
    normalize_mean_action: bool = False
    """Standardise the ā input by running statistics (helps when ā barely moves)."""
    reward_centering: bool = False
    """Subtract a running average r̄ of the reward from every reward (reward centering, Naik et
    al. 2024). Softmax policies ignore a shift shared by all actions, and Q then tracks the
    differences between actions instead of the reward level."""
    reward_scaling: bool = False
    """Divide rewards by a running mean of |reward| (or this batch's mean |reward| when that
    is larger) before fitting, so that Q, β and the actor's step are in units of the current
    reward level instead of the game's raw units."""
    reward_stats_rate: float = 0.01
    """Rate of the running reward statistics used by reward_centering and reward_scaling."""
    entropy_coef: float = 0.0
    """Entropy bonus weight in the actor loss (mfac/iac)."""
    actor_encoder: Literal["critic", "own"] = "critic"
    """Grid views only (Battle): the actor reads the critic's view encoder without training it
    (critic), or has an encoder of its own (own). With its own, the actor collapsed onto
    moves before its policy gradient could tell where the opponents are (docs/battle.md)."""
    actor_gradient: Literal["sampled", "expected", "natural"] = "sampled"
    """sampled: ∇log π(a)·(Q(a) − V) at the action taken (the paper); expected: the exact
    expectation Σ_a ∇π(a)·Q(a) over actions (same mean, lower variance); natural: every
    logit moves by its advantage Q(a) − V, the natural gradient of a softmax table (Kakade
    2002), which does not fade for actions the policy makes unlikely."""
    grad_clip: float = 10.0
    """Maximum global gradient norm per update (0 disables clipping)."""
    precision: Literal["fp32", "bf16", "auto"] = "auto"
    """Arithmetic of the grid-view networks (Battle): fp32, or bf16 to run their
    convolutions and view dense layer in bfloat16 (as under torch autocast; weights,
    gradients, Adam, heads and losses stay float32). Battle training 1.1-1.4x faster on CPUs
    with native bf16 (AMX or AVX512-BF16), 4-7x slower on CPUs without it (a warning says so), and
    slower on an H200 GPU at Battle's batch sizes (0.85x). auto (the default) picks bf16
    only where the hardware has it and a short probe on the run's device is at least 10%
    faster, fp32 elsewhere; config.json records the choice and a resumed run keeps it. The
    Q-values differ from fp32 in about the fourth significant digit, so a seed gives the
    same run only on machines that make the same choice (give fp32 to fix it); five quick
    Battle seeds learned as well in bf16 as in fp32 (docs/battle.md). No effect on the
    vector-observation networks."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not isinstance(value, bool):
                require(math.isfinite(value), f"{f.name}={value} must be a finite number")
        require_choice("algo", self.algo, ALGORITHMS)
        require_choice("parameter_sharing", self.parameter_sharing, ("shared", "per-agent"))
        require_choice("value_target", self.value_target, ("mean_field", "max", "double"))
        require_choice("mean_action_timing", self.mean_action_timing, ("realised", "previous"))
        require_choice("schedule_unit", self.schedule_unit, ("steps", "episodes"))
        require_choice("initial_mean_action", self.initial_mean_action, ("zeros", "uniform"))
        require_choice("mean_action_stream", self.mean_action_stream, ("both", "value"))
        require_choice("optimizer", self.optimizer, ("adam", "sgd"))
        require_choice("actor_gradient", self.actor_gradient, ("sampled", "expected", "natural"))
        require_choice("actor_encoder", self.actor_encoder, ("critic", "own"))
        require_choice("precision", self.precision, PRECISIONS)
        require(len(self.hidden) <= 16, f"hidden={self.hidden} must have at most 16 layers")
        for width in self.hidden:
            require_int_in("hidden size", width, 1, MAX_WIDTH)
        for name in ("lr", "actor_lr"):
            value = getattr(self, name)
            require(0 < value <= 1e6, f"{name}={value} must be in (0, 1e6]")
        require(0.0 <= self.gamma <= 1.0, f"gamma={self.gamma} must be in [0, 1]")
        for name in ("beta_start", "beta_end"):
            value = getattr(self, name)
            require(0 < value <= 1e12, f"{name}={value} must be in (0, 1e12]")
        for name in ("epsilon_start", "epsilon_end"):
            value = getattr(self, name)
            require(0.0 <= value <= 1.0, f"{name}={value} must be in [0, 1]")
        for name in ("beta_steps", "epsilon_steps"):
            require_int_in(name, getattr(self, name), 0, MAX_STEPS)
        for name in ("target_tau", "act_tau"):
            value = getattr(self, name)
            require(0.0 < value <= 1.0, f"{name}={value} must be in (0, 1]")
        require(0.0 <= self.average_tau <= 1.0, f"average_tau={self.average_tau} must be in [0, 1]")
        require(
            0.0 < self.reward_stats_rate <= 1.0,
            f"reward_stats_rate={self.reward_stats_rate} must be in (0, 1]",
        )
        for name in ("advantage_decay", "entropy_coef", "grad_clip"):
            value = getattr(self, name)
            require(0 <= value <= 1e12, f"{name}={value} must be in [0, 1e12]")
        require(
            abs(self.initial_preference) <= 1e6,
            f"initial_preference={self.initial_preference} must be in [-1e6, 1e6]",
        )

    @property
    def uses_mean_action(self) -> bool:
        return self.algo in ("mfq", "mfac")


VIEW_NETWORK_FIXED: dict[str, Any] = {
    "hidden": (64,),
    "dueling": False,
    "normalize_mean_action": False,
    "mean_action_stream": "both",
}
"""Settings the grid-view networks do not read: their layers are fixed (the reference code's
sizes), their head is not dueling, and they read ā as it is."""


def view_network_conflicts(config: AlgorithmConfig) -> list[str]:
    """The settings of ``config`` a grid-view network would ignore (``name=value``)."""
    out = []
    for name, fixed in VIEW_NETWORK_FIXED.items():
        value = getattr(config, name)
        if (tuple(value) if isinstance(value, (list, tuple)) else value) != fixed:
            out.append(f"{name}={value!r}")
    return out


def require_view_settings(config: AlgorithmConfig) -> None:
    """Raise :class:`ConfigError` if ``config`` sets what a grid-view network ignores."""
    conflicts = view_network_conflicts(config)
    if conflicts:
        fixed = ", ".join(f"{k}={v!r}" for k, v in VIEW_NETWORK_FIXED.items())
        raise ConfigError(
            f"grid-view networks (Battle, MAgent2) have fixed layers and no dueling head, so "
            f"{', '.join(conflicts)} would be ignored; leave them at {fixed}"
        )
