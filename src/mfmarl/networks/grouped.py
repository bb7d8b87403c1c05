"""Layers whose parameters are either shared by all agents or owned by each agent.

A *group* is a set of parameters. ``groups=1`` shares one set between every agent (parameter
sharing within a team); ``groups=n_agents`` gives agent i its own set, and every agent is still
evaluated in one batched call (``einsum`` over the agent axis), never in a Python loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class GroupedLinear(nn.Module):
    """``y[..., i, :] = x[..., i, :] @ W[g(i)] + b[g(i)]``.

    ``x: (B, n, in)`` -> ``(B, n, out)``; with ``groups > 1``, ``n`` must equal ``groups``.
    """

    def __init__(self, in_features: int, out_features: int, groups: int = 1) -> None:
        super().__init__()
        self.groups = groups
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(groups, out_features))
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return x @ self.weight[0] + self.bias[0]
        return torch.einsum("bni,nio->bno", x, self.weight) + self.bias


class GroupedMLP(nn.Module):
    """An MLP of :class:`GroupedLinear` layers with ReLU between them.

    ``x: (B, n, in)`` -> ``(B, n, out)``. With ``in_features == 0`` (a stateless input) the
    hidden layers would only see constants, so the network is a per-group bias table.
    """

    def __init__(
        self, in_features: int, out_features: int, hidden: Sequence[int] = (), groups: int = 1
    ) -> None:
        super().__init__()
        sizes = [in_features, *(hidden if in_features > 0 else ()), out_features]
        self.layers = nn.ModuleList(
            GroupedLinear(a, b, groups) for a, b in zip(sizes[:-1], sizes[1:])
        )

    @property
    def output_layer(self) -> GroupedLinear:
        return self.layers[-1]  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class RunningNormalizer(nn.Module):
    """Standardise features with an exponential moving mean and variance.

    ``x: (..., dim)`` -> ``(x − mean)/sqrt(var + eps)``. The statistics are buffers, so they are
    saved in checkpoints; :meth:`update` moves them towards a batch.
    """

    mean: torch.Tensor
    var: torch.Tensor
    initialised: torch.Tensor

    def __init__(self, dim: int, momentum: float = 0.01, eps: float = 1e-6) -> None:
        super().__init__()
        self.momentum = momentum
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] == 0:
            return
        # two passes: Tensor.var over 8000 rows of 10 columns takes about 7 times as long
        mean = flat.mean(0)
        var = (flat - mean).square().mean(0)
        if not bool(self.initialised):
            self.mean.copy_(mean)
            self.var.copy_(var)
            self.initialised.fill_(True)
            return
        m = self.momentum
        delta = mean - self.mean
        self.mean.add_(m * delta)
        self.var.mul_(1 - m).add_(m * (var + (1 - m) * delta**2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / torch.sqrt(self.var + self.eps)
