"""What acts: a policy network, the rule that turns its output into probabilities, ε-mixing,
sampling and chunking. Training, ``battle``, ``tournament`` and ``render`` all act through
:class:`Policy` (and :func:`act_together` for several groups at once); the learners own the
optimizers and the lagged copies, and hand out policies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from mfmarl.core.schedules import ConstantSchedule, Schedule

ACT_CHUNK = 512
"""Most agents per forward pass when acting with shared parameters (see :meth:`Policy.act`)."""

ScoresToProbs = Callable[[torch.Tensor, int], torch.Tensor]
"""``(scores (1, k, D), step) -> probabilities (1, k, D)``."""


def sample_categorical(probs: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """One action per row of ``probs: (n, D)`` -> ``(n,)`` int64, by inverting the CDF with one
    uniform draw per row from ``generator`` (4x faster than ``torch.multinomial`` for small
    ``D``; the same distribution; actions of probability 0 are never drawn). In numpy: on
    64 × 21 its few small operations cost less than the same ones in torch."""
    cdf = np.cumsum(probs, axis=-1, dtype=np.float64)  # u * total < total but for 2^-53 odds
    u = torch.rand(probs.shape[0], generator=generator, dtype=torch.float64).numpy()
    drawn = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=-1)
    return np.minimum(drawn, probs.shape[-1] - 1)


class Policy:
    """A stochastic policy over one group's slots.

    ``network(obs (1, k, obs_dim), ā (1, k, A)) -> scores (1, k, D)`` (Q-values or logits);
    ``to_probs(scores, step)`` makes them probabilities (Boltzmann with the β schedule, or a
    softmax); ``epsilon(step)`` mixes in uniform actions; draws come from ``generator``.
    ``shared``: one set of parameters for every slot (rows are independent, so only living
    rows are evaluated, in chunks of :data:`ACT_CHUNK`); otherwise per-agent parameters, which
    need every row in place.
    """

    def __init__(
        self,
        network: nn.Module,
        to_probs: ScoresToProbs,
        n_actions: int,
        *,
        shared: bool = True,
        epsilon: Schedule | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.network = network
        self.to_probs = to_probs
        self.n_actions = n_actions
        self.shared = shared
        self.epsilon: Schedule = epsilon or ConstantSchedule(0.0)
        self.generator = generator or torch.Generator(device="cpu").manual_seed(0)
        self.device = torch.device(device)

    def frozen(self, seed: int, epsilon: Schedule | None = None) -> Policy:
        """A copy that acts like this one from now on and never changes: its own copy of the
        network (no gradients) and its own generator seeded with ``seed``; ``epsilon``
        replaces the ε schedule when given."""
        network = copy.deepcopy(self.network)
        network.requires_grad_(False)
        for parameter in network.parameters():
            parameter.grad = None
        generator = torch.Generator(device="cpu").manual_seed(seed)
        return Policy(
            network,
            self.to_probs,
            self.n_actions,
            shared=self.shared,
            epsilon=self.epsilon if epsilon is None else epsilon,
            generator=generator,
            device=self.device,
        )

    def act(
        self,
        obs: np.ndarray,
        mean_action: np.ndarray,
        step: int,
        alive: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample actions for all slots in one batched pass.

        ``obs: (n, obs_dim)``, ``mean_action: (n, A)`` -> ``(actions (n,), probs (n, D))``,
        the probabilities after ε-mixing. ``alive: (n,)`` (optional): with shared parameters
        only the living rows go through the network; dead rows get action 0 and probability
        rows of zeros (nothing reads them). More than :data:`ACT_CHUNK` living agents go
        through the network in chunks of that many: past a few hundred agents a single pass
        spills the activations out of the CPU caches and costs more per agent.
        """
        return act_together([self], [obs], [mean_action], step, [alive])[0]

    def probabilities(
        self, obs: torch.Tensor, mean_action: torch.Tensor, step: int
    ) -> torch.Tensor:
        """Probabilities ``(1, n, D)`` before ε-mixing, for ``obs: (1, n, obs_dim)``."""
        return self.to_probs(self.network(obs, mean_action), step)

    # -- the pieces act_together orders ------------------------------------------------------
    def _acting_rows(self, alive: np.ndarray | None) -> np.ndarray | None:
        """Indices of the rows to act on (``None``: every row)."""
        if alive is not None and self.shared and not alive.all():
            return np.flatnonzero(alive)
        return None

    def _one_pass_scores(self, obs: np.ndarray, mean_action: np.ndarray) -> torch.Tensor | None:
        """The network's output for ``obs: (k, obs_dim)`` when one pass takes them all (at
        most :data:`ACT_CHUNK` rows with shared parameters, or per-agent parameters); else
        ``None`` (:meth:`_mixed` then goes chunk by chunk)."""
        if self.shared and obs.shape[0] > ACT_CHUNK:
            return None
        return self.network(*self._inputs(obs, mean_action))

    def _mixed(
        self, obs: np.ndarray, mean_action: np.ndarray, step: int, scores: torch.Tensor | None
    ) -> np.ndarray:
        """ε-mixed probabilities ``(k, D)`` of ``obs: (k, obs_dim)``, from ``scores`` when the
        forward pass was already made."""
        if scores is not None:
            probs = self.to_probs(scores, step)[0]
        else:
            o, m = self._inputs(obs, mean_action)
            parts = [
                self.probabilities(o[:, s : s + ACT_CHUNK], m[:, s : s + ACT_CHUNK], step)[0]
                for s in range(0, o.shape[1], ACT_CHUNK)
            ]
            probs = torch.cat(parts)
        mixed = probs.cpu().numpy()
        eps = self.epsilon(step)
        if eps > 0:
            mixed = mixed * np.float32(1 - eps)
            mixed += np.float32(eps / self.n_actions)
        return mixed

    def _inputs(
        self, obs: np.ndarray, mean_action: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(k, obs_dim)``, ``(k, A)`` arrays -> float32 tensors ``(1, k, ...)`` on the
        policy's device (no copy for float32 arrays on the CPU)."""

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=self.device).unsqueeze(0)

        return tensor(obs), tensor(mean_action)


@torch.inference_mode()
def act_together(
    policies: Sequence[Policy],
    obs: Sequence[np.ndarray],
    mean_actions: Sequence[np.ndarray],
    step: int | Sequence[int],
    alive: Sequence[np.ndarray | None],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:meth:`Policy.act` for several groups, group ``i`` played by ``policies[i]``.

    The same actions and probabilities as calling ``policies[i].act(obs[i], mean_actions[i],
    step, alive[i])`` in turn (each group draws from its policy's generator, in order; the
    same policy may play several groups), in a different order of work: every group's
    forward pass first, then every group's probabilities, then every group's draws. The first
    small operation after a forward pass runs with the caches emptied by it (measured about
    4x slower than the same operation run again), so grouping the small operations of all
    groups pays that once per kind instead of once per group. ``step``: one schedule step
    for every policy, or one per policy.
    """
    steps = [step] * len(policies) if isinstance(step, int) else list(step)
    rows = [policy._acting_rows(a) for policy, a in zip(policies, alive)]
    inputs = [(o, m) if r is None else (o[r], m[r]) for o, m, r in zip(obs, mean_actions, rows)]
    scores = [
        policy._one_pass_scores(o, m) if o.shape[0] else None
        for policy, (o, m) in zip(policies, inputs)
    ]
    probs = [
        policy._mixed(o, m, t, s) if o.shape[0] else None
        for policy, (o, m), s, t in zip(policies, inputs, scores, steps)
    ]
    acted = []
    for policy, o, p, r in zip(policies, obs, probs, rows):
        n, d = o.shape[0], policy.n_actions
        if p is None:  # nobody alive
            acted.append((np.zeros(n, dtype=np.int64), np.zeros((n, d), dtype=np.float32)))
            continue
        actions = sample_categorical(p, policy.generator)
        if r is None:
            acted.append((actions, p))
            continue
        all_actions = np.zeros(n, dtype=np.int64)
        all_probs = np.zeros((n, d), dtype=np.float32)
        all_actions[r], all_probs[r] = actions, p
        acted.append((all_actions, all_probs))
    return acted
