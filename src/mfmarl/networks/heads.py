"""Q-networks with a mean-action input, and actors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mfmarl.networks.grouped import GroupedMLP, RunningNormalizer


def falling_preference(n_actions: int, slope: float) -> torch.Tensor:
    """Initial logits ``−slope·a`` for ``a = 0..D−1``: a policy that starts near action 0.

    ``slope = 0`` gives a uniform start. ``-> (D,)``.
    """
    return -slope * torch.arange(n_actions, dtype=torch.float32)


class QNetwork(nn.Module):
    """``Q(o, ā) -> (Q(o, a, ā))_a`` for every action a.

    ``obs: (B, n, obs_dim)``, ``mean_action: (B, n, A)`` or ``None`` when the network ignores ā
    (IL, AC) -> ``(B, n, D)``. ``A`` = ``mean_action_dim`` (default D: the mean over a group
    with the same actions; more for several groups' means side by side).

    - ``dueling`` (Wang et al., 2016): the network gives a value V and advantages A, and
      ``Q = V + A − mean_a A``. The level of Q is shared by all actions, so a rarely taken
      action keeps its preference relative to the others instead of lagging the reward level.
    - ``mean_action_stream="value"`` (needs ``dueling``): ā enters V only, ``A = A(o, a)``.
      Q still depends on ā, and fitting it at the realised ā lets V(o, ā) absorb the part of
      the reward caused by the other agents (a control variate), while the action preferences
      are not moved by the round-to-round noise of ā. ``"both"`` feeds ā to every output.
    - ``normalize_mean_action``: ā is standardised by running statistics first (ā moves by
      O(1/√N) around its mean, a scale a network cannot see unless it is blown up).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        use_mean_action: bool,
        hidden: Sequence[int] = (64,),
        groups: int = 1,
        normalize_mean_action: bool = False,
        initial_q: torch.Tensor | None = None,
        dueling: bool = True,
        mean_action_stream: str = "both",
        mean_action_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.use_mean_action = use_mean_action
        self.dueling = dueling
        self.split_streams = dueling and use_mean_action and mean_action_stream == "value"
        width = n_actions if mean_action_dim is None else mean_action_dim
        in_dim = obs_dim + (width if use_mean_action else 0)
        self.normalizer = (
            RunningNormalizer(width) if use_mean_action and normalize_mean_action else None
        )
        if self.split_streams:
            self.advantage = GroupedMLP(obs_dim, n_actions, hidden, groups)
            self.value = GroupedMLP(in_dim, 1, hidden, groups)
            out_layers = [self.advantage.output_layer]
        else:
            self.mlp = GroupedMLP(in_dim, n_actions + (1 if dueling else 0), hidden, groups)
            out_layers = [self.mlp.output_layer]
        if initial_q is not None:
            if dueling and not self.split_streams:
                initial_q = torch.cat([initial_q - initial_q.mean(), initial_q.mean().view(1)])
            with torch.no_grad():
                for out in out_layers:
                    out.weight.zero_()
                    out.bias.copy_(initial_q.expand_as(out.bias))

    def features(self, obs: torch.Tensor, mean_action: torch.Tensor | None) -> torch.Tensor:
        if not self.use_mean_action:
            return obs
        assert mean_action is not None, "this Q-network needs the mean action"
        if self.normalizer is not None:
            mean_action = self.normalizer(mean_action)
        return torch.cat([obs, mean_action], dim=-1)

    def forward(self, obs: torch.Tensor, mean_action: torch.Tensor | None = None) -> torch.Tensor:
        x = self.features(obs, mean_action)
        if self.split_streams:
            advantage, value = self.advantage(obs), self.value(x)
        elif self.dueling:
            out = self.mlp(x)
            advantage, value = out[..., :-1], out[..., -1:]
        else:
            return self.mlp(x)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)


class Actor(nn.Module):
    """``π(a | o)`` as logits. ``obs: (B, n, obs_dim)`` -> logits ``(B, n, D)``; a mean action,
    when given, is ignored (the paper's actor does not read ā)."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int] = (64,),
        groups: int = 1,
        initial_logits: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.mlp = GroupedMLP(obs_dim, n_actions, hidden, groups)
        if initial_logits is not None:
            out = self.mlp.output_layer
            with torch.no_grad():
                out.weight.mul_(0.01)
                out.bias.copy_(initial_logits.expand_as(out.bias))

    def forward(self, obs: torch.Tensor, mean_action: torch.Tensor | None = None) -> torch.Tensor:
        return self.mlp(obs)
