"""What every learner shares: networks from the config, optimizers, lagged copies, reward
statistics, masked losses, the acting :class:`~mfmarl.algorithms.policy.Policy` it hands out,
and its state for checkpoints.

A learner *learns*; what *acts* is a :class:`~mfmarl.algorithms.policy.Policy`: the learner's
own (:attr:`Learner.policy`, the acting network with the training schedules), frozen snapshots
of it for self-play (:meth:`Learner.frozen_policy`) and the one trained players use
(:meth:`Learner.evaluation_policy`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from mfmarl.algorithms.config import (
    ALGORITHM_NAMES,
    ALGORITHMS,
    AlgorithmConfig,
    view_network_conflicts,
)
from mfmarl.algorithms.lagged import LaggedCopy, ModuleTensors, averaging_interval, soft_update
from mfmarl.algorithms.policy import ACT_CHUNK, Policy, act_together, sample_categorical
from mfmarl.buffers import Batch, living_rows
from mfmarl.core.errors import MAX_AGENTS, MAX_FEATURES, MAX_WIDTH, require, require_int_in
from mfmarl.core.policy import boltzmann_policy, softmax
from mfmarl.core.schedules import ConstantSchedule, ExponentialSchedule, LinearSchedule, Schedule
from mfmarl.networks import QNetwork, ViewQNetwork, resolve_precision
from mfmarl.networks.view import ViewEncoder

log = logging.getLogger(__name__)

__all__ = [
    "ACT_CHUNK",
    "ALGORITHMS",
    "ALGORITHM_NAMES",
    "AlgorithmConfig",
    "Boltzmann",
    "Learner",
    "ModuleTensors",
    "Softmax",
    "act_together",
    "make_learner",
    "masked_mean",
    "sample_categorical",
    "soft_update",
]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over entries where ``mask`` is 1 (0 when the mask is empty)."""
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


@dataclass(frozen=True)
class Boltzmann:
    """``softmax(β_t · Q)``: Q-values to probabilities with the β schedule at step t."""

    beta: Schedule

    def __call__(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        return boltzmann_policy(scores, self.beta(step))


@dataclass(frozen=True)
class Softmax:
    """``softmax(logits)``: an actor's output to probabilities."""

    def __call__(self, scores: torch.Tensor, step: int) -> torch.Tensor:
        return softmax(scores)


class Learner:
    """What the training loop needs from an algorithm.

    Subclasses build their networks, lagged copies and optimizers in :meth:`build` (called once,
    after the shared state is set and torch is seeded), name them in :meth:`modules` and
    :meth:`optimizers`, set :attr:`policy_network` (the trained network that acts) and
    :attr:`acting` (its acting copy), and implement :meth:`update`.

    ``obs_dim``: flat observation length; ``view_shape`` ``(H, W, C)`` when those columns start
    with a grid view; ``mean_action_dim``: width of ā (``n_actions`` for the mean over one
    group of the same action space; more when ā concatenates several groups' means).
    """

    policy_network: nn.Module
    """The trained network whose output is the policy (Q-network or actor)."""
    acting: LaggedCopy
    """The copy of :attr:`policy_network` that acts (follows it at ``act_tau``)."""
    average: LaggedCopy | None
    """The evaluation average of :attr:`policy_network` (``average_tau`` > 0), else None."""
    to_probs: Boltzmann | Softmax
    """How the policy network's output becomes probabilities."""

    def __init__(
        self,
        config: AlgorithmConfig,
        obs_dim: int,
        n_actions: int,
        n_agents: int,
        device: str = "cpu",
        seed: int = 0,
        view_shape: tuple[int, int, int] | None = None,
        mean_action_dim: int | None = None,
    ) -> None:
        self.config = config
        self.obs_dim = obs_dim
        self.view_shape = tuple(view_shape) if view_shape is not None else None
        if self.view_shape is not None:
            ignored = view_network_conflicts(config)
            if ignored:  # (the command line refuses them; a library caller is told)
                log.warning("grid-view networks ignore %s", ", ".join(ignored))
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
        self.mean_action_dim = n_actions if mean_action_dim is None else mean_action_dim
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
        self.episodes = 0
        """Episodes finished (the training loop keeps it, with ``env_steps``)."""
        self.reward_mean = torch.zeros(())
        self.reward_magnitude = torch.zeros(())
        self.reward_mean_ready = False
        torch.manual_seed(seed)
        self.build()
        self.policy = Policy(
            self.acting.current(),
            self.to_probs,
            n_actions,
            shared=self.groups == 1,
            epsilon=self.epsilon,
            generator=self.generator,
            device=self.device,
        )

    # -- to be provided by subclasses -------------------------------------------------------
    def build(self) -> None:
        """Create the networks, lagged copies and optimizers."""
        raise NotImplementedError

    def update(self, batch: Batch, step: int = 0) -> dict[str, float]:
        """One gradient step at environment step ``step``; returns namespaced scalar metrics."""
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        """Every module whose state belongs in a checkpoint, by name."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    @property
    def precision(self) -> str | None:
        """The arithmetic its grid-view networks run in (``fp32`` or ``bf16``: ``auto``
        resolved when they were built); None for vector-observation networks."""
        for module in self.modules().values():
            for sub in module.modules():
                if isinstance(sub, ViewEncoder):
                    return sub.precision
        return None

    # -- acting ------------------------------------------------------------------------------
    def act(
        self,
        obs: np.ndarray,
        mean_action: np.ndarray,
        step: int,
        alive: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`Policy.act` of the acting policy (see there for shapes)."""
        return self.policy.act(obs, mean_action, step, alive)

    def frozen_policy(self, seed: int) -> Policy:
        """A snapshot that acts as the learner acts now and never changes (self-play
        opponents): a copy of the acting network only (no optimizer state, no target),
        with its own generator seeded with ``seed`` and the same schedules."""
        return self.policy.frozen(seed)

    def evaluation_policy(self, seed: int = 0) -> Policy:
        """The policy trained players act with: the evaluation average when the run kept
        one, else the acting network; no ε; β held at its value now (the end of training);
        its own generator seeded with ``seed``."""
        network = self.average.module if self.average is not None else self.acting.current()
        to_probs: Boltzmann | Softmax = self.to_probs
        if isinstance(to_probs, Boltzmann):
            to_probs = Boltzmann(ConstantSchedule(self.beta(self.clock())))
        return Policy(
            network,
            to_probs,
            self.n_actions,
            shared=self.groups == 1,
            epsilon=ConstantSchedule(0.0),
            generator=torch.Generator(device="cpu").manual_seed(seed),
            device=self.device,
        )

    def use_average(self) -> bool:
        """Make the acting copy the evaluation average, for a learner that only plays from
        now on. Returns whether there was an average."""
        if self.average is None:
            return False
        self.acting.module.load_state_dict(self.average.module.state_dict())
        self.acting.wake()
        self.policy.network = self.acting.module
        return True

    def acting_network(self) -> nn.Module:
        """The policy network that acts now (the acting copy, or the trained network itself
        while the copy rests)."""
        return self.acting.current()

    # -- learning ----------------------------------------------------------------------------
    def follow(self) -> None:
        """Move every lagged copy of the policy network after an update: the acting copy
        and the evaluation average."""
        self.acting.follow()
        if self.average is not None:
            self.average.follow(self.updates + 1)  # (``updates`` counts it after this)

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

    def clip_gradients(self, module: nn.Module, tensors: ModuleTensors) -> None:
        """Clip ``module``'s global gradient norm to ``grad_clip`` (if > 0), as
        ``clip_grad_norm_`` does. On the CPU the gradients are only rescaled when the norm is
        over the limit: below it torch multiplies every gradient by exactly 1.0, a full pass
        over them (and their memory) that changes nothing."""
        max_norm = self.config.grad_clip
        if max_norm <= 0:
            return
        params = tensors.parameters
        utils = nn.utils
        if self.device.type != "cpu" or not hasattr(utils, "clip_grads_with_norm_"):
            utils.clip_grad_norm_(params, max_norm)
            return
        total = utils.get_total_norm([p.grad for p in params if p.grad is not None])
        if max_norm / (total + 1e-6) < 1.0:  # torch's clipping coefficient, before clamping
            utils.clip_grads_with_norm_(params, max_norm, total)

    def lagged(self, source: nn.Module, tau: float, rests: bool = False) -> LaggedCopy:
        return LaggedCopy(source, tau, rests)

    def average_of(self, source: nn.Module) -> LaggedCopy | None:
        """The evaluation average of ``source`` (``None`` when ``average_tau`` is 0); a slow
        one moves every few updates (:func:`~mfmarl.algorithms.lagged.averaging_interval`)."""
        tau = self.config.average_tau
        return LaggedCopy(source, tau, every=averaging_interval(tau)) if tau > 0 else None

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
                precision=resolve_precision(cfg.precision, self.device),
                mean_action_dim=self.mean_action_dim,
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
            mean_action_dim=self.mean_action_dim,
        ).to(self.device)

    def initial_q(self, beta: float) -> torch.Tensor:
        """Initial Q output so that softmax(β·Q) starts at the configured preference."""
        return -self.config.initial_preference * torch.arange(self.n_actions) / beta

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

    def clock(self) -> int:
        """Where the ε and β schedules stand: ``env_steps`` or ``episodes``, by
        ``config.schedule_unit``."""
        return self.episodes if self.config.schedule_unit == "episodes" else self.env_steps

    def schedules(self, step: int) -> dict[str, float]:
        return {
            "charts/beta": self.beta(step),
            "charts/epsilon": self.epsilon(step),
            "charts/reward_mean": float(self.reward_mean),
        }

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every module's tensors as ``<module>.<param>``; a resting acting copy is brought up
        to date first, so that the saved copy is what acted."""
        if self.acting.resting:
            self.acting.sync()
        return {f"{k}.{n}": v for k, m in self.modules().items() for n, v in m.state_dict().items()}

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
    mean_action_dim: int | None = None,
) -> Learner:
    """Build the learner named by ``config.algo``. With ``view_shape`` ``(H, W, C)`` the flat
    observations are a view followed by features, read by the view networks."""
    from mfmarl.algorithms.mfac import MeanFieldActorCritic
    from mfmarl.algorithms.mfq import MeanFieldQ

    check_learner_sizes(obs_dim, n_actions, n_agents, view_shape, mean_action_dim)
    cls = MeanFieldQ if config.algo in ("mfq", "iql") else MeanFieldActorCritic
    return cls(config, obs_dim, n_actions, n_agents, device, seed, view_shape, mean_action_dim)


def check_learner_sizes(
    obs_dim: int,
    n_actions: int,
    n_agents: int,
    view_shape: tuple[int, int, int] | None = None,
    mean_action_dim: int | None = None,
) -> None:
    """Raise :class:`ConfigError` unless every size is an integer in a range that fits a
    machine (checked before anything is allocated)."""
    require_int_in("obs_dim", obs_dim, 0, MAX_FEATURES)
    require_int_in("n_actions", n_actions, 1, MAX_WIDTH)
    require_int_in("n_agents", n_agents, 1, MAX_AGENTS)
    if mean_action_dim is not None:
        require_int_in("mean_action_dim", mean_action_dim, 1, MAX_WIDTH)
    if view_shape is not None:
        require(len(view_shape) == 3, f"view_shape={view_shape} must be (H, W, C)")
        for side in view_shape:
            require_int_in("view_shape side", side, 1, MAX_WIDTH)
        height, width, channels = view_shape
        require(
            height * width * channels <= obs_dim,
            f"view_shape={tuple(view_shape)} is larger than obs_dim={obs_dim}",
        )
