"""Shapes, parameter counts (worked out by hand) and ā handling of the view networks."""

from __future__ import annotations

import torch

from mfmarl.networks.view import ViewActor, ViewQNetwork

VIEW = (13, 13, 7)
FEATURES = 34
ACTIONS = 21


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_q_network_parameter_count_matches_the_reference_architecture() -> None:
    conv1 = 7 * 32 * 9 + 32
    conv2 = 32 * 32 * 9 + 32
    view_dense = 32 * 9 * 9 * 256 + 256  # two valid 3×3 convolutions: 13 → 11 → 9
    features = FEATURES * 32 + 32
    mean_action = (ACTIONS * 64 + 64) + (64 * 32 + 32)
    head = ((256 + 32 + 32) * 128 + 128) + (128 * 64 + 64) + (64 * ACTIONS + ACTIONS)
    expected = conv1 + conv2 + view_dense + features + mean_action + head
    assert _count(ViewQNetwork(VIEW, FEATURES, ACTIONS, use_mean_action=True)) == expected
    without = expected - mean_action - 32 * 128  # the head loses the 32 ā inputs
    assert _count(ViewQNetwork(VIEW, FEATURES, ACTIONS, use_mean_action=False)) == without


def test_shapes_and_mean_action_dependence() -> None:
    torch.manual_seed(0)
    obs = torch.rand(2, 5, 13 * 13 * 7 + FEATURES)
    first, second = torch.zeros(2, 5, ACTIONS), torch.zeros(2, 5, ACTIONS)
    first[..., 0], second[..., 20] = 1.0, 1.0
    q = ViewQNetwork(VIEW, FEATURES, ACTIONS, use_mean_action=True)
    assert q(obs, first).shape == (2, 5, ACTIONS)
    assert not torch.allclose(q(obs, first), q(obs, second))
    independent = ViewQNetwork(VIEW, FEATURES, ACTIONS, use_mean_action=False)
    assert torch.equal(independent(obs, first), independent(obs, second))
    assert ViewActor(VIEW, FEATURES, ACTIONS)(obs).shape == (2, 5, ACTIONS)


def test_view_is_read_channels_last() -> None:
    """A change in one view cell moves Q; a change in the features moves it too."""
    torch.manual_seed(0)
    q = ViewQNetwork(VIEW, FEATURES, ACTIONS, use_mean_action=False)
    obs = torch.zeros(1, 1, 13 * 13 * 7 + FEATURES)
    view_cell = obs.clone()
    view_cell[0, 0, (6 * 13 + 6) * 7 + 3] = 1.0  # centre cell, channel 3
    feature = obs.clone()
    feature[0, 0, -1] = 1.0
    base = q(obs)
    assert not torch.allclose(q(view_cell), base)
    assert not torch.allclose(q(feature), base)


def test_a_camera_image_is_pooled_to_the_largest_side_before_the_convolutions() -> None:
    """pistonball's 457 × 120 × 3 image: pooled to 32 × 32, then 30 → 28 after the two
    convolutions, so the view's dense layer has 32·28·28·256 weights (not 32·453·116·256)."""
    from mfmarl.networks.view import ViewEncoder

    encoder = ViewEncoder((457, 120, 3), feature_dim=0)
    conv = (3 * 32 * 9 + 32) + (32 * 32 * 9 + 32)
    assert _count(encoder) == conv + 32 * 28 * 28 * 256 + 256
    # the pooled image is the mean of its cells: a uniform image pools to itself
    image = torch.full((1, 1, 457 * 120 * 3), 0.5)
    pooled = encoder.convs[0](image.reshape(1, 457, 120, 3).permute(0, 3, 1, 2))
    assert pooled.shape == (1, 3, 32, 32) and torch.allclose(pooled, torch.tensor(0.5))
    assert encoder(image).shape == (1, 1, 256)
    # MAgent2's views are read as they are
    assert not isinstance(ViewEncoder(VIEW, FEATURES).convs[0], torch.nn.AdaptiveAvgPool2d)
