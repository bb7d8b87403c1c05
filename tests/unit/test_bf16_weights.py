"""bf16 view encoders keep their weights' bfloat16 copies until the weights change
(``mfmarl.networks.bf16``): the arithmetic is autocast's, bit for bit, and every way the
weights change reaches the next pass."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mfmarl.algorithms.lagged import soft_update
from mfmarl.networks import ViewEncoder, bf16

VIEW, FEATURES = (13, 13, 7), 34


def _encoder(view: tuple[int, int, int] = VIEW, features: int = FEATURES) -> ViewEncoder:
    net = ViewEncoder(view, features, precision="fp32")
    net.precision = "bf16"  # (set, not resolved: no probe or warning on CPUs without bf16)
    return net


def _obs(net: ViewEncoder, batch: int = 16, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 2, net.view_size + net.feature_dim, generator=generator)


def _under_autocast(net: ViewEncoder, obs: torch.Tensor) -> torch.Tensor:
    """The encoder's bf16 forward written with torch autocast (the reference)."""
    flat = obs.reshape(-1, obs.shape[-1])
    view = flat[:, : net.view_size].reshape(-1, *net.view_shape).permute(0, 3, 1, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        encoded = net.view_dense(net.convs(view))
    parts = [encoded.float()]
    if net.features is not None:
        parts.append(net.features(flat[:, net.view_size :]))
    return torch.cat(parts, dim=-1).reshape(*obs.shape[:-1], net.out_dim)


def _grads(net: nn.Module, output: torch.Tensor) -> list[torch.Tensor]:
    net.zero_grad(set_to_none=True)
    (output * torch.linspace(-1, 1, output.shape[-1])).sum().backward()
    return [p.grad.clone() for p in net.parameters()]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("view", "features"),
    [(VIEW, FEATURES), ((40, 36, 3), 0), ((4, 4, 5), 3)],
    ids=["battle", "pooled camera image", "one convolution"],
)
def test_the_forward_and_the_gradients_are_autocasts_bit_for_bit(
    view: tuple[int, int, int], features: int
) -> None:
    torch.manual_seed(0)
    net = _encoder(view, features)
    obs = _obs(net)
    ours = net(obs)
    expected = _under_autocast(net, obs)
    assert ours.dtype == torch.float32
    assert torch.equal(ours, expected)
    for a, b in zip(_grads(net, net(obs)), _grads(net, _under_autocast(net, obs))):
        assert torch.equal(a, b)


def _changed_by(how: str, net: ViewEncoder, obs: torch.Tensor) -> None:
    """Change ``net``'s weights ``how``, as training and loading do."""
    if how.startswith("adam") or how == "fused sgd":
        fused = how != "adam, unfused"
        if how == "fused sgd":
            optimizer: torch.optim.Optimizer = torch.optim.SGD(net.parameters(), 0.1, fused=True)
        else:
            optimizer = torch.optim.Adam(net.parameters(), lr=0.01, fused=fused)
        _grads(net, net(obs))
        optimizer.step()
    elif how == "soft update":
        other = ViewEncoder(VIEW, FEATURES)
        soft_update(net, other, 0.3)
    elif how == "load_state_dict":
        net.load_state_dict(ViewEncoder(VIEW, FEATURES).state_dict())
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how", ["adam, fused", "adam, unfused", "fused sgd", "soft update", "load_state_dict"]
)
def test_every_way_the_weights_change_reaches_the_next_pass(how: str) -> None:
    """Torch's fused optimizers write the weights without bumping their versions; the
    cache must see those steps too (it did not, before the step hook)."""
    torch.manual_seed(0)
    net = _encoder()
    obs = _obs(net)
    with torch.inference_mode():
        before = net(obs)  # the copies are made here, as by the acting pass
    _changed_by(how, net, obs)
    with torch.inference_mode():
        after = net(obs)
    assert not torch.equal(after, before)
    assert torch.equal(after, _under_autocast(net, obs).detach())


def test_the_weights_are_cast_once_between_changes() -> None:
    torch.manual_seed(0)
    net = _encoder()
    obs = _obs(net)
    weights = 6  # two convolutions and the view's dense layer, weights and biases
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, fused=True)
    for step in range(3):
        with torch.inference_mode():
            net(obs)  # acting
        net.zero_grad()
        net(obs).sum().backward()  # the update's forward reads the same copies
        assert net.bf16_weights.casts == weights * (step + 1)
        optimizer.step()


def test_a_frozen_copy_keeps_its_copies_and_a_deep_copy_starts_empty() -> None:
    torch.manual_seed(0)
    net = _encoder()
    obs = _obs(net)
    net(obs)
    frozen = copy.deepcopy(net).requires_grad_(False)
    assert frozen.bf16_weights.casts == 0
    for _ in range(3):
        assert torch.equal(frozen(obs), _under_autocast(net, obs))
    assert frozen.bf16_weights.casts == 6


def test_the_copies_made_while_acting_train_in_the_next_update() -> None:
    """The acting pass runs under inference mode; its copies must still be usable in a
    forward whose backward pass saves them."""
    torch.manual_seed(0)
    net = _encoder()
    obs = _obs(net)
    with torch.inference_mode():
        net(obs)
    ours = _grads(net, net(obs))
    assert all(torch.equal(a, b) for a, b in zip(ours, _grads(net, _under_autocast(net, obs))))


def test_a_backward_pass_through_weights_changed_since_fails_loudly() -> None:
    """As in float32: a graph built before an optimizer step cannot be differentiated after
    the next pass recast the weights (never silently with the new weights). No features:
    every weight in the graph is a bf16 copy."""
    torch.manual_seed(0)
    net = _encoder(VIEW, 0)
    obs = _obs(net)
    old = net(obs).sum()
    _changed_by("adam, fused", net, obs)
    net(obs)
    with pytest.raises(RuntimeError, match="modified (by an )?inplace"):
        old.backward()


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_passes_without_gradients_give_autocasts_numbers(
    fused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acting, target and frozen networks: fused convolution/linear + ReLU on the CPU where
    torch has them (the third read of an unchanged weight uses its packed layout), the
    autocast path elsewhere. The fused kernels may sum in another order than the unfused
    ones on some CPUs: equal up to bfloat16 rounding."""
    if not fused:
        monkeypatch.setattr(bf16, "fused_cpu_ops", lambda: False)
    elif not bf16.fused_cpu_ops():
        pytest.skip("this torch has no fused oneDNN operators on this CPU")
    torch.manual_seed(0)
    net = _encoder().requires_grad_(False)
    obs = _obs(net, batch=13)
    expected = _under_autocast(net, obs)
    for _ in range(bf16.PACK_AFTER_READS + 1):
        with torch.inference_mode():
            torch.testing.assert_close(net(obs), expected, rtol=1.6e-2, atol=1e-5)
    assert net.bf16_weights.casts == 6  # cast once; the view layer packed on the third read
    dense = net.view_dense[0]
    assert isinstance(dense, nn.Linear)
    packed = net.bf16_weights._held[id(dense.weight)].packed
    assert (packed is not None) == fused


def test_a_network_that_keeps_changing_is_never_packed() -> None:
    """Packing costs about five casts: a target network (a soft update before every read)
    must not pay it at every step."""
    torch.manual_seed(0)
    net, source = _encoder().requires_grad_(False), ViewEncoder(VIEW, FEATURES)
    obs = _obs(net)
    for _ in range(5):
        with torch.inference_mode():
            net(obs)
        soft_update(net, source, 0.1)
    dense = net.view_dense[0]
    assert isinstance(dense, nn.Linear)
    assert net.bf16_weights._held[id(dense.weight)].packed is None
    assert net.bf16_weights.casts == 5 * 6
