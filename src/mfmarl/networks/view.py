"""Networks for grid-world views (Battle): the reference code's architecture in torch.

Observations arrive flat, ``obs: (B, n, H·W·C + F)``: the ``(H, W, C)`` view (channels last,
as the engine gives it) followed by ``F`` features. The view goes through two 3×3 convolutions
and a dense layer, the features through a dense layer, ā through two dense layers; the
concatenation feeds a dense head. Sizes default to the reference code's (docs/method.md 6.3):
conv(32)-conv(32)-dense(256), dense(32), dense(64)-dense(32), dense(128)-dense(64)-D.
Parameters are shared by the agents of a team; agents are folded into the batch axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mfmarl.core.errors import require_choice
from mfmarl.networks.bf16 import Bf16Weights, bf16_layers
from mfmarl.networks.precision import PRECISIONS, resolve_precision

"""Arithmetic of the view encoder (see :class:`ViewEncoder`)."""
MAX_VIEW_SIDE = 32
"""Views longer than this on a side (camera images: pistonball's 457 × 120, pong's 280 × 480)
are average-pooled to at most this size before the convolutions; MAgent2's views (13 × 13
and smaller) are read as they are. Without it the dense layer after the convolutions would
hold hundreds of millions of weights."""


def _dense(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with a ReLU after each one (in place: the layer's fresh output is never
    needed by autograd, and skipping the copy saves a pass over it)."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _set_output_bias(head: nn.Sequential, bias: torch.Tensor | None) -> None:
    """Start the last linear layer at ``bias`` (an initial action preference), if given."""
    if bias is not None:
        last = head[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.bias.copy_(bias)


class ViewEncoder(nn.Module):
    """``obs: (B, n, H·W·C + F)`` -> embedding ``(B, n, view_hidden + feature_hidden)``.

    Unpadded 3 × 3 convolutions (``conv_channels``; only as many as the view's size allows),
    a dense layer on the view and one on the features; a view longer than
    :data:`MAX_VIEW_SIDE` on a side is average-pooled down to it first. ``precision``:
    ``fp32``, or ``bf16`` to run the convolutions and the view's dense layer (almost all of
    the network's arithmetic) in bfloat16 as torch autocast would: weights, gradients and
    optimizer state stay float32, the embedding is returned as float32, and everything after
    it (features, ā, head, losses) runs in float32. The bfloat16 copies of the weights are
    kept until the weights change (:class:`~mfmarl.networks.bf16.Bf16Weights`), where
    autocast would cast them again on every pass.
    """

    def __init__(
        self,
        view_shape: tuple[int, int, int],
        feature_dim: int,
        conv_channels: Sequence[int] = (32, 32),
        view_hidden: int = 256,
        feature_hidden: int = 32,
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        require_choice("precision", precision, PRECISIONS)
        self.precision = resolve_precision(precision)  # callers pass it resolved for their device
        height, width, channels = view_shape
        self.view_shape = view_shape
        self.view_size = height * width * channels
        self.feature_dim = feature_dim
        convs: list[nn.Module] = []
        if max(height, width) > MAX_VIEW_SIDE:
            height, width = min(height, MAX_VIEW_SIDE), min(width, MAX_VIEW_SIDE)
            convs.append(nn.AdaptiveAvgPool2d((height, width)))
        in_channels = channels
        for out_channels in conv_channels:
            if min(height, width) < 3:  # a small view (MAgent2's deer: 3 x 3) takes fewer
                break
            convs += [nn.Conv2d(in_channels, out_channels, kernel_size=3), nn.ReLU(inplace=True)]
            in_channels = out_channels
            height, width = height - 2, width - 2
        self.convs = nn.Sequential(*convs, nn.Flatten())
        self.view_dense = _dense([in_channels * height * width, view_hidden])
        self.features = _dense([feature_dim, feature_hidden]) if feature_dim > 0 else None
        self.out_dim = view_hidden + (feature_hidden if feature_dim > 0 else 0)
        self.bf16_weights = Bf16Weights()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[:-1]
        flat = obs.reshape(-1, obs.shape[-1])
        view = flat[:, : self.view_size].reshape(-1, *self.view_shape).permute(0, 3, 1, 2)
        if self.precision == "bf16":
            layers = (*self.convs, *self.view_dense)
            parts = [bf16_layers(view, layers, self.bf16_weights).float()]
        else:
            parts = [self.view_dense(self.convs(view))]
        if self.features is not None:
            parts.append(self.features(flat[:, self.view_size :]))
        return torch.cat(parts, dim=-1).reshape(*lead, self.out_dim)


class ViewQNetwork(nn.Module):
    """``Q(o, ā)`` for views: ``obs: (B, n, H·W·C + F)``, ``mean_action: (B, n, A)`` or
    ``None`` (IL, AC) -> ``(B, n, D)`` (``A`` = ``mean_action_dim``, default D)."""

    def __init__(
        self,
        view_shape: tuple[int, int, int],
        feature_dim: int,
        n_actions: int,
        use_mean_action: bool,
        mean_action_hidden: Sequence[int] = (64, 32),
        head_hidden: Sequence[int] = (128, 64),
        initial_q: torch.Tensor | None = None,
        precision: str = "fp32",
        mean_action_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.use_mean_action = use_mean_action
        self.normalizer = None  # the view networks read ā as it is
        self.encoder = ViewEncoder(view_shape, feature_dim, precision=precision)
        width = self.encoder.out_dim
        if use_mean_action:
            ma_width = n_actions if mean_action_dim is None else mean_action_dim
            self.mean_action = _dense([ma_width, *mean_action_hidden])
            width += mean_action_hidden[-1]
        self.head = nn.Sequential(
            _dense([width, *head_hidden]), nn.Linear(head_hidden[-1], n_actions)
        )
        _set_output_bias(self.head, initial_q)

    def forward(self, obs: torch.Tensor, mean_action: torch.Tensor | None = None) -> torch.Tensor:
        parts = [self.encoder(obs)]
        if self.use_mean_action:
            assert mean_action is not None, "this Q-network needs the mean action"
            parts.append(self.mean_action(mean_action))
        return self.head(torch.cat(parts, dim=-1))


class ViewActor(nn.Module):
    """``π(a | o)`` logits for views: ``obs: (B, n, H·W·C + F)`` -> ``(B, n, D)`` (a mean action,
    when given, is ignored).

    ``encoder``: read the observation through this (the critic's) encoder, without passing
    gradients into it, instead of an encoder of its own. The actor then starts from the
    features the critic's regression finds (where the opponents are), which a policy
    gradient alone learns far more slowly than the state-independent preference it also
    sees (measured: an actor with its own encoder collapsed onto moves while the critic
    already ranked the right attack first).
    """

    def __init__(
        self,
        view_shape: tuple[int, int, int],
        feature_dim: int,
        n_actions: int,
        head_hidden: Sequence[int] = (128, 64),
        initial_logits: torch.Tensor | None = None,
        encoder: ViewEncoder | None = None,
        precision: str = "fp32",
    ) -> None:
        super().__init__()
        self.shares_encoder = encoder is not None
        self.encoder = (
            encoder
            if encoder is not None
            else ViewEncoder(view_shape, feature_dim, precision=precision)
        )
        self.head = nn.Sequential(
            _dense([self.encoder.out_dim, *head_hidden]), nn.Linear(head_hidden[-1], n_actions)
        )
        _set_output_bias(self.head, initial_logits)

    def own_parameters(self) -> list[nn.Parameter]:
        """The parameters the actor's loss trains (not a shared encoder's)."""
        module = self.head if self.shares_encoder else self
        return list(module.parameters())

    def forward(self, obs: torch.Tensor, mean_action: torch.Tensor | None = None) -> torch.Tensor:
        features = self.encoder(obs)
        if self.shares_encoder:
            features = features.detach()
        return self.head(features)
