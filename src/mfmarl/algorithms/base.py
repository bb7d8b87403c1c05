"""The learner interface, the algorithm config, and what every learner shares."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from mfmarl.buffers import Batch, living_rows
from mfmarl.core.errors import require, require_choice
from mfmarl.core.schedules import ExponentialSchedule, LinearSchedule
from mfmarl.networks import PRECISIONS, QNetwork, ViewQNetwork

Algo = Literal["mfq", "mfac", "iql", "iac"]
ALGORITHMS: tuple[str, ...] = ("mfq", "mfac", "iql", "iac")
ALGORITHM_NAMES = {"mfq": "MF-Q", "mfac": "MF-AC", "iql": "IL", "iac": "AC"}
ACT_CHUNK = 512
"""Most agents per forward pass when acting (see :meth:`Learner.act`)."""


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
    """Environment steps over which β moves from beta_start to beta_end."""
    epsilon_start: float = 0.0
    """Probability of a uniform random action at the start (ε-mixing on top of the policy)."""
    epsilon_end: float = 0.0
    """ε at the end of its linear schedule."""
    epsilon_steps: int = 0
    """Environment steps over which ε moves from epsilon_start to epsilon_end."""
    target_tau: float = 0.01
    """Soft update rate of the target network: φ⁻ ← τφ + (1−τ)φ⁻ after each update."""
    act_tau: float = 1.0
    """Soft update rate of the acting copy of the policy (1.0: act with the current network).
    A small value makes the population's policy change slowly relative to the fit."""
    average_tau: float = 0.0
    """Rate of a Polyak average of the policy network kept for evaluation, φ̄ ← φ̄ + τ(φ − φ̄)
    after each update (Q-network for MF-Q/IL, actor for MF-AC/AC); trained players (battle,
    tournament, render) act with it. 0: no average, players act with the trained network.
    Training never uses it."""
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
    precision: Literal["fp32", "bf16"] = "fp32"
    """Arithmetic of the grid-view networks (Battle): fp32, or bf16 to run their
    convolutions and view dense layer in bfloat16 (torch autocast; weights, gradients, Adam,
    heads and losses stay float32). About 1.6x faster training on CPUs with native bf16
    (AMX or AVX512-BF16) or on GPUs, slower on CPUs without it; the Q-values differ from
    fp32 in about the fourth significant digit (docs/performance.md). No effect on the
    vector-observation networks."""

    def __post_init__(self) -> None:
        require_choice("algo", self.algo, ALGORITHMS)
        require_choice("parameter_sharing", self.parameter_sharing, ("shared", "per-agent"))
        require_choice("value_target", self.value_target, ("mean_field", "max", "double"))
        require_choice("mean_action_timing", self.mean_action_timing, ("realised", "previous"))
        require_choice("initial_mean_action", self.initial_mean_action, ("zeros", "uniform"))
        require_choice("mean_action_stream", self.mean_action_stream, ("both", "value"))
        require_choice("optimizer", self.optimizer, ("adam", "sgd"))
        require_choice("actor_gradient", self.actor_gradient, ("sampled", "expected", "natural"))
        require_choice("actor_encoder", self.actor_encoder, ("critic", "own"))
        require_choice("precision", self.precision, PRECISIONS)
        require(all(h > 0 for h in self.hidden), f"hidden={self.hidden} sizes must be > 0")
        require(self.lr > 0, f"lr={self.lr} must be > 0")
        require(self.actor_lr > 0, f"actor_lr={self.actor_lr} must be > 0")
        require(0.0 <= self.gamma <= 1.0, f"gamma={self.gamma} must be in [0, 1]")
        require(self.beta_start > 0 and self.beta_end > 0, "beta_start and beta_end must be > 0")
        for name in ("epsilon_start", "epsilon_end"):
            value = getattr(self, name)
            require(0.0 <= value <= 1.0, f"{name}={value} must be in [0, 1]")
        for name in ("beta_steps", "epsilon_steps"):
            require(getattr(self, name) >= 0, f"{name}={getattr(self, name)} must be >= 0")
        for name in ("target_tau", "act_tau"):
            value = getattr(self, name)
            require(0.0 < value <= 1.0, f"{name}={value} must be in (0, 1]")
        require(0.0 <= self.average_tau <= 1.0, f"average_tau={self.average_tau} must be in [0, 1]")
        require(
            0.0 < self.reward_stats_rate <= 1.0,
            f"reward_stats_rate={self.reward_stats_rate} must be in (0, 1]",
        )
        require(self.advantage_decay >= 0, f"advantage_decay={self.advantage_decay} must be >= 0")
        require(self.entropy_coef >= 0, f"entropy_coef={self.entropy_coef} must be >= 0")
        require(self.grad_clip >= 0, f"grad_clip={self.grad_clip} must be >= 0")

    @property
    def uses_mean_action(self) -> bool:
        return self.algo in ("mfq", "mfac")


class ModuleTensors(NamedTuple):
    """A module's parameters and buffers, listed once."""

    parameters: list[torch.Tensor]
    buffers: list[torch.Tensor]

    @staticmethod
    def of(module: nn.Module) -> ModuleTensors:
        return ModuleTensors(list(module.parameters()), list(module.buffers()))


def soft_update(
    target: nn.Module,
    source: nn.Module,
    tau: float,
    tensors: tuple[ModuleTensors, ModuleTensors] | None = None,
) -> None:
    """``target ← τ·source + (1 − τ)·target`` for parameters; buffers are copied.

    One fused (``_foreach``) call over all parameters instead of one small kernel each;
    ``tau = 1`` copies exactly. ``tensors``: both modules' :class:`ModuleTensors`, listed once
    by the caller (walking the module tree costs more than the update itself at batch 64).
    """
    with torch.no_grad():
        if tensors is None:
            tensors = (ModuleTensors.of(target), ModuleTensors.of(source))
        into, come = tensors
        if tau >= 1.0:
            _copy_all(into.parameters, come.parameters)
        else:
            torch._foreach_lerp_(into.parameters, come.parameters, tau)
        if into.buffers:
            _copy_all(into.buffers, come.buffers)


def _copy_all(into: list[torch.Tensor], come: list[torch.Tensor]) -> None:
    """``into[i].copy_(come[i])`` for all i, in one call where torch has ``_foreach_copy_``."""
    foreach_copy = getattr(torch, "_foreach_copy_", None)
    if foreach_copy is not None:
        foreach_copy(into, come)
        return
    for a, b in zip(into, come):
        a.copy_(b)


def sample_categorical(probs: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """One action per row of ``probs: (n, D)`` -> ``(n,)`` int64, by inverting the CDF with one
    uniform draw per row from ``generator`` (4x faster than ``torch.multinomial`` for small
    ``D``; the same distribution; actions of probability 0 are never drawn). In numpy: on
    64 × 21 its few small operations cost less than the same ones in torch."""
    cdf = np.cumsum(probs, axis=-1, dtype=np.float64)  # u * total < total but for 2^-53 odds
    u = torch.rand(probs.shape[0], generator=generator, dtype=torch.float64).numpy()
    drawn = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=-1)
    return np.minimum(drawn, probs.shape[-1] - 1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over entries where ``mask`` is 1 (0 when the mask is empty)."""
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


@torch.inference_mode()
def act_together(
    learners: Sequence[Learner],
    obs: Sequence[np.ndarray],
    mean_actions: Sequence[np.ndarray],
    step: int,
    alive: Sequence[np.ndarray | None],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:meth:`Learner.act` for several armies, army ``i`` played by ``learners[i]``.

    The same actions and probabilities as calling ``learners[i].act(obs[i], mean_actions[i],
    step, alive[i])`` in turn (each army draws from its learner's generator, in order; the
    same learner may play several armies), in a different order of work: every army's
    forward pass first, then every army's probabilities, then every army's draws. The first
    small operation after a forward pass runs with the caches emptied by it (measured about
    4x slower than the same operation run again), so grouping the small operations of all
    armies pays that once per kind instead of once per army.
    """
    rows = [learner._acting_rows(a) for learner, a in zip(learners, alive)]
    inputs = [(o, m) if r is None else (o[r], m[r]) for o, m, r in zip(obs, mean_actions, rows)]
    scores = [
        learner._one_pass_scores(o, m) if o.shape[0] else None
        for learner, (o, m) in zip(learners, inputs)
    ]
    probs = [
        learner._probabilities(o, m, step, s) if o.shape[0] else None
        for learner, (o, m), s in zip(learners, inputs, scores)
    ]
    acted = []
    for learner, o, p, r in zip(learners, obs, probs, rows):
        n, d = o.shape[0], learner.n_actions
        if p is None:  # nobody alive
            acted.append((np.zeros(n, dtype=np.int64), np.zeros((n, d), dtype=np.float32)))
            continue
        actions = sample_categorical(p, learner.generator)
        if r is None:
            acted.append((actions, p))
            continue
        all_actions = np.zeros(n, dtype=np.int64)
        all_probs = np.zeros((n, d), dtype=np.float32)
        all_actions[r], all_probs[r] = actions, p
        acted.append((all_actions, all_probs))
    return acted


class Learner:
    """What the training loop needs from an algorithm.

    Subclasses build their networks and optimizers in :meth:`build` (called once, after the
    shared state is set and torch is seeded) and implement :meth:`policy_scores` (the
    acting copy's output), :meth:`scores_to_policy` (its action probabilities) and
    :meth:`update`.
    """

    def __init__(
        self,
        config: AlgorithmConfig,
        obs_dim: int,
        n_actions: int,
        n_agents: int,
        device: str = "cpu",
        seed: int = 0,
        view_shape: tuple[int, int, int] | None = None,
    ) -> None:
        self.config = config
        self.obs_dim = obs_dim
        self.view_shape = tuple(view_shape) if view_shape is not None else None
        if self.view_shape is not None:
            h, w, c = self.view_shape
            require(
                obs_dim >= h * w * c,
                f"obs_dim={obs_dim} is smaller than the view {h}x{w}x{c}",
            )
            require(
                config.parameter_sharing == "shared",
                "view networks (grid observations) support parameter_sharing='shared' only",
            )
        self.n_actions = n_actions
        self.n_agents = n_agents
        self.device = torch.device(device)
        self.groups = n_agents if config.parameter_sharing == "per-agent" else 1
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.beta = ExponentialSchedule(config.beta_start, config.beta_end, config.beta_steps)
        self.epsilon = LinearSchedule(
            config.epsilon_start, config.epsilon_end, config.epsilon_steps
        )
        self.updates = 0
        self.env_steps = 0
        self.reward_mean = torch.zeros(())
        self.reward_magnitude = torch.zeros(())
        self.reward_mean_ready = False
        self._tensor_lists: dict[int, tuple[nn.Module, ModuleTensors]] = {}
        self.acts_with_copy = config.act_tau < 1.0
        torch.manual_seed(seed)
        self.build()

    # -- to be provided by subclasses -------------------------------------------------------
    def build(self) -> None:
        """Create the networks and optimizers."""
        raise NotImplementedError

    def update(self, batch: Batch, step: int = 0) -> dict[str, float]:
        """One gradient step at environment step ``step``; returns namespaced scalar metrics."""
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        """Every module whose state belongs in a checkpoint, by name."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def make_optimizer(
        self,
        module: nn.Module,
        lr: float,
        decayed: nn.Module | None = None,
        params: list[nn.Parameter] | None = None,
    ) -> torch.optim.Optimizer:
        """SGD or Adam over ``module`` (or only ``params`` of it); the parameters of
        ``decayed`` (a submodule) get weight decay ``advantage_decay``."""
        decayed_ids = {id(p) for p in decayed.parameters()} if decayed is not None else set()
        trained = list(module.parameters()) if params is None else params
        groups: list[dict[str, Any]] = [
            {"params": [p for p in trained if id(p) not in decayed_ids]},
            {
                "params": [p for p in trained if id(p) in decayed_ids],
                "weight_decay": self.config.advantage_decay,
            },
        ]
        groups = [g for g in groups if g["params"]]
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr)
        # The fused kernel does the same Adam arithmetic in one pass over each tensor
        # (measured 6x faster than the default per-tensor loop on a CPU). Torch before 2.4
        # has no CPU kernel: fall back to the default implementation there.
        if self.device.type in ("cpu", "cuda"):
            try:
                return torch.optim.Adam(groups, lr=lr, fused=True)
            except (RuntimeError, ValueError):
                pass
        return torch.optim.Adam(groups, lr=lr)

    def masked_loss(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean of ``values: (B, n)`` over living agents, times the number of parameter groups,
        so that with per-agent parameters each agent's gradient is the mean over its own
        samples (the same step size as a shared network gets from the mean over everyone)."""
        return masked_mean(values, mask) * self.groups

    def tensors(self, module: nn.Module) -> ModuleTensors:
        """``module``'s parameters and buffers, listed once per module (a learner's modules
        keep their tensor objects for life; loading a state dict copies into them)."""
        entry = self._tensor_lists.get(id(module))
        if entry is None or entry[0] is not module:
            entry = (module, ModuleTensors.of(module))
            self._tensor_lists[id(module)] = entry
        return entry[1]

    def soft_update(self, target: nn.Module, source: nn.Module, tau: float) -> None:
        """:func:`soft_update` with the listed tensors."""
        soft_update(target, source, tau, (self.tensors(target), self.tensors(source)))

    def clip_gradients(self, module: nn.Module) -> None:
        """Clip ``module``'s global gradient norm to ``grad_clip`` (if > 0), as
        ``clip_grad_norm_`` does. On the CPU the gradients are only rescaled when the norm is
        over the limit: below it torch multiplies every gradient by exactly 1.0, a full pass
        over them (and their memory) that changes nothing."""
        max_norm = self.config.grad_clip
        if max_norm <= 0:
            return
        params = self.tensors(module).parameters
        utils = nn.utils
        if self.device.type != "cpu" or not hasattr(utils, "clip_grads_with_norm_"):
            utils.clip_grad_norm_(params, max_norm)
            return
        total = utils.get_total_norm([p.grad for p in params if p.grad is not None])
        if max_norm / (total + 1e-6) < 1.0:  # torch's clipping coefficient, before clamping
            utils.clip_grads_with_norm_(params, max_norm, total)

    def average_copy(self, module: nn.Module) -> nn.Module | None:
        """The evaluation average of ``module`` (``None`` when ``average_tau`` is 0)."""
        return self.acting_copy(module) if self.config.average_tau > 0 else None

    def update_average(self, average: nn.Module | None, module: nn.Module) -> None:
        if average is not None:
            self.soft_update(average, module, self.config.average_tau)

    def use_average(self) -> bool:
        """Make the acting copy the evaluation average, for a learner that only plays from
        now on (trained players). Returns whether there was an average."""
        average = self.modules().get(self.average_name)
        if average is None:
            return False
        self.modules()[self.acting_name].load_state_dict(average.state_dict())
        self.acts_with_copy = True
        return True

    def follow(self, acting: nn.Module, trained: nn.Module) -> None:
        """Move the acting copy towards the trained network by ``act_tau`` (after an
        update). Nothing to do when the learner acts with the trained network itself."""
        if self.acts_with_copy:
            self.soft_update(acting, trained, self.config.act_tau)

    def acting_network(self) -> nn.Module:
        """The policy network that acts: the acting copy, or the trained network itself when
        the copy rests (:attr:`acts_with_copy`)."""
        return self.modules()[self.acting_name if self.acts_with_copy else self.trained_name]

    def sync_acting_copy(self) -> None:
        """Bring a resting acting copy up to the trained network (before a checkpoint, so
        that the saved copy is what acted)."""
        if not self.acts_with_copy and self.acting_name:
            modules = self.modules()
            self.soft_update(modules[self.acting_name], modules[self.trained_name], 1.0)

    acts_with_copy: bool
    """Whether the acting copy acts (set from ``act_tau`` when the learner is made). With
    ``act_tau`` = 1 the copy would equal the trained network after every update, so the
    learner acts with the trained network itself and skips copying the whole network per
    update; the copy is synchronised for checkpoints (:meth:`sync_acting_copy`) and acts
    again once :meth:`use_average` loads it (:meth:`acting_network`)."""
    trained_name: str = ""
    """Name in :meth:`modules` of the trained policy network the acting copy follows."""
    acting_name: str = ""
    """Name in :meth:`modules` of the acting copy of the policy network."""
    average_name: str = ""
    """Name in :meth:`modules` of its evaluation average (present when average_tau > 0)."""

    @staticmethod
    def acting_copy(module: nn.Module) -> nn.Module:
        copied = copy.deepcopy(module)
        copied.requires_grad_(False)
        return copied

    @property
    def feature_dim(self) -> int:
        """Length of the flat features after the view (0 without a view)."""
        if self.view_shape is None:
            return 0
        h, w, c = self.view_shape
        return self.obs_dim - h * w * c

    def make_q_network(self, initial_q: torch.Tensor | None = None) -> QNetwork | ViewQNetwork:
        """The Q-network (MF-Q, IL) or critic (MF-AC, AC) this config describes: a
        :class:`ViewQNetwork` when observations hold a view, else a :class:`QNetwork`."""
        cfg = self.config
        if self.view_shape is not None:
            return ViewQNetwork(
                self.view_shape,  # type: ignore[arg-type]
                self.feature_dim,
                self.n_actions,
                use_mean_action=cfg.uses_mean_action,
                initial_q=initial_q,
                precision=cfg.precision,
            ).to(self.device)
        return QNetwork(
            self.obs_dim,
            self.n_actions,
            use_mean_action=cfg.uses_mean_action,
            hidden=cfg.hidden,
            groups=self.groups,
            normalize_mean_action=cfg.normalize_mean_action,
            dueling=cfg.dueling,
            mean_action_stream=cfg.mean_action_stream,
            initial_q=initial_q,
        ).to(self.device)

    def initial_q(self, beta: float) -> torch.Tensor:
        """Initial Q output so that softmax(β·Q) starts at the configured preference."""
        return -self.config.initial_preference * torch.arange(self.n_actions) / beta

    def act(
        self,
        obs: np.ndarray,
        mean_action: np.ndarray,
        step: int,
        alive: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample actions for all agents in one batched pass.

        ``obs: (n, obs_dim)``, ``mean_action: (n, D)`` -> ``(actions (n,), probs (n, D))``,
        the probabilities after ε-mixing. ``alive: (n,)`` (optional): with shared parameters
        only the living rows go through the network; dead rows get action 0 and probability
        rows of zeros (nothing reads them). With shared parameters, more than
        :data:`ACT_CHUNK` agents go through the network in chunks of that many (rows are
        independent): past a few hundred agents a single pass spills the activations out of
        the CPU caches and costs more per agent. :func:`act_together` does the same for
        several armies at once.
        """
        return act_together([self], [obs], [mean_action], step, [alive])[0]

    def policy_scores(self, obs: torch.Tensor, mean_action: torch.Tensor) -> torch.Tensor:
        """The acting network's output ``(1, n, D)`` (Q-values or logits) for
        ``obs: (1, n, obs_dim)``, ``ā: (1, n, D)``."""
        raise NotImplementedError

    def scores_to_policy(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        """Acting probabilities from :meth:`policy_scores` at environment step ``step``."""
        raise NotImplementedError

    def policy(self, obs: torch.Tensor, mean_action: torch.Tensor, step: int) -> torch.Tensor:
        """Acting probabilities ``(1, n, D)`` for ``obs: (1, n, obs_dim)``, ``ā: (1, n, D)``."""
        return self.scores_to_policy(self.policy_scores(obs, mean_action), step)

    def _acting_rows(self, alive: np.ndarray | None) -> np.ndarray | None:
        """Indices of the rows to act on (``None``: every row)."""
        if alive is not None and self.groups == 1 and not alive.all():
            return np.flatnonzero(alive)
        return None

    def _probabilities(
        self, obs: np.ndarray, mean_action: np.ndarray, step: int, scores: torch.Tensor | None
    ) -> np.ndarray:
        """ε-mixed acting probabilities ``(k, D)`` of ``obs: (k, obs_dim)``, from ``scores``
        when the forward pass was already made (one pass of at most ``ACT_CHUNK`` rows)."""
        if scores is not None:
            probs = self.scores_to_policy(scores, step)[0]
        else:
            o, m = self._network_inputs(obs, mean_action)
            parts = [
                self.policy(o[:, s : s + ACT_CHUNK], m[:, s : s + ACT_CHUNK], step)[0]
                for s in range(0, o.shape[1], ACT_CHUNK)
            ]
            probs = torch.cat(parts)
        mixed = probs.cpu().numpy()
        eps = self.epsilon(step)
        if eps > 0:
            mixed = mixed * np.float32(1 - eps)
            mixed += np.float32(eps / self.n_actions)
        return mixed

    def _one_pass_scores(self, obs: np.ndarray, mean_action: np.ndarray) -> torch.Tensor | None:
        """:meth:`policy_scores` of ``obs: (k, obs_dim)`` when one pass takes them all (at
        most ``ACT_CHUNK`` rows with shared parameters, or per-agent parameters); else
        ``None`` (:meth:`_probabilities` then goes chunk by chunk)."""
        if self.groups == 1 and obs.shape[0] > ACT_CHUNK:
            return None
        return self.policy_scores(*self._network_inputs(obs, mean_action))

    def _network_inputs(
        self, obs: np.ndarray, mean_action: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(k, obs_dim)``, ``(k, D)`` arrays -> float32 tensors ``(1, k, ...)`` on the
        learner's device (no copy for float32 arrays on the CPU)."""

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=self.device).unsqueeze(0)

        return tensor(obs), tensor(mean_action)

    def compact(self, batch: Batch, normalizer: nn.Module | None) -> Batch:
        """:func:`~mfmarl.buffers.living_rows` of ``batch`` when that changes nothing but
        speed: shared parameters (no agent axis needed) and no ā normalizer (whose
        statistics see every row)."""
        if self.groups == 1 and normalizer is None:
            return living_rows(batch)
        return batch

    def fit_rewards(self, batch: Batch) -> torch.Tensor:
        """Update the running reward statistics with this batch; return the rewards to fit:
        ``r``, minus r̄ with reward centering, divided by mean |r| with reward scaling. ``(B, n)``.
        """
        cfg = self.config
        if not cfg.reward_centering and not cfg.reward_scaling:
            return batch.rewards
        rate = cfg.reward_stats_rate
        mean = masked_mean(batch.rewards, batch.alive).detach().cpu()
        magnitude = masked_mean(batch.rewards.abs(), batch.alive).detach().cpu()
        if not self.reward_mean_ready:
            self.reward_mean, self.reward_magnitude = mean, magnitude
            self.reward_mean_ready = True
        else:
            self.reward_mean = self.reward_mean + rate * (mean - self.reward_mean)
            self.reward_magnitude = self.reward_magnitude + rate * (
                magnitude - self.reward_magnitude
            )
        rewards = batch.rewards
        if cfg.reward_centering:
            rewards = rewards - self.reward_mean.to(rewards.device)
        if cfg.reward_scaling:
            # Never below this batch's own level: where the reward grows by orders of
            # magnitude within the averaging window (a Gaussian's tail), the lagging average
            # alone would inflate the rewards, and with them the policy's step, many times.
            scale = max(float(self.reward_magnitude), float(magnitude))
            rewards = rewards / max(scale, 1e-30)
        return rewards

    def schedules(self, step: int) -> dict[str, float]:
        return {
            "charts/beta": self.beta(step),
            "charts/epsilon": self.epsilon(step),
            "charts/reward_mean": float(self.reward_mean),
        }

    def state_dict(self) -> dict[str, Any]:
        self.sync_acting_copy()
        state: dict[str, Any] = {
            f"{k}.{n}": v for k, m in self.modules().items() for n, v in m.state_dict().items()
        }
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, module in self.modules().items():
            prefix = f"{name}."
            sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            module.load_state_dict(sub)


def make_learner(
    config: AlgorithmConfig,
    obs_dim: int,
    n_actions: int,
    n_agents: int,
    device: str = "cpu",
    seed: int = 0,
    view_shape: tuple[int, int, int] | None = None,
) -> Learner:
    """Build the learner named by ``config.algo``. With ``view_shape`` ``(H, W, C)`` the flat
    observations are a view followed by features, read by the view networks."""
    from mfmarl.algorithms.mfac import MeanFieldActorCritic
    from mfmarl.algorithms.mfq import MeanFieldQ

    cls = MeanFieldQ if config.algo in ("mfq", "iql") else MeanFieldActorCritic
    return cls(config, obs_dim, n_actions, n_agents, device, seed, view_shape)
