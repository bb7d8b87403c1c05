"""bfloat16 copies of float32 weights, cast again only when a weight has changed, and the
passes without gradients fused on the CPU.

torch autocast casts every float32 weight to bfloat16 on every forward pass. In a Battle
training step the same weights are read several times between two changes: the acting pass
and the next update's forward read the online network as the last optimizer step left it, and
a frozen self-play opponent's weights never change. At the Battle view encoder's size one cast
of the 2592 × 256 view weight costs about as much as a tenth of the step's arithmetic in
bfloat16 (docs/performance.md), so :class:`Bf16Weights` keeps each cast until the weight
changes.

A change is read off the weight's version counter, which every in-place write through the
tensor bumps (optimizer steps, soft updates, ``load_state_dict``, ``copy_`` under
``no_grad``), and its storage address (``.to``, ``share_memory_``, ``param.data = ...``).
Two writes bump neither:

- torch's *fused* optimizer kernels (``Adam(fused=True)``, the learners' default, AdamW,
  SGD) write the parameters without bumping their versions. A hook on every optimizer's
  step (:func:`track_fused_steps`, registered when the first copy is kept) bumps them after a
  fused step, as the unfused step does itself.
- A write through ``param.data`` (``param.data.copy_(...)``) would leave a stale copy:
  write weights in place under ``torch.no_grad()`` instead, as torch itself does.

On a torch without the hook or ``increment_version`` (before 2.1) nothing is kept: every
pass casts, as autocast does.

With gradients, the arithmetic is exactly autocast's: the same bfloat16 values enter the same
kernels, and the gradient reaches the float32 weight through the same cast back (bit-identical
results are a test, ``tests/unit/test_bf16_weights.py``). Without gradients (acting, the
target network, frozen opponents, evaluation) on the CPU, each convolution and linear layer
that a ReLU follows runs as one oneDNN call with the ReLU fused in (torch's
``mkldnn._convolution_pointwise`` and ``_linear_pointwise``, the kernels torch.compile uses),
and a weight read twice without changing (a frozen network) is kept in oneDNN's packed layout:
a no-grad pass of the Battle encoder took 0.53 instead of 0.62 ms (docs/performance.md). The
ReLU is applied before the result is rounded to bfloat16 instead of after, which gives the
same numbers (rounding keeps the sign). Where this torch lacks those operators or they fail
on this CPU, the unfused path runs.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.nn import functional

try:  # torch 2.1 and later
    from torch.autograd.graph import increment_version
    from torch.optim.optimizer import register_optimizer_step_post_hook
except ImportError:  # pragma: no cover - older torch keeps no copies
    increment_version = register_optimizer_step_post_hook = None  # type: ignore[assignment]


def _bump_fused(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """After a fused step, bump the versions of the parameters it wrote."""
    for group in optimizer.param_groups:
        if group.get("fused"):
            increment_version([p for p in group["params"] if p.grad is not None])


@functools.cache
def track_fused_steps() -> bool:
    """Register :func:`_bump_fused` on every optimizer's step, once per process. Returns
    whether this torch can (a cache keeps nothing where it cannot)."""
    if increment_version is None or register_optimizer_step_post_hook is None:
        return False
    register_optimizer_step_post_hook(_bump_fused)
    return True


KEPT_FROM = 1 << 16
"""With gradients, tensors with at least this many elements are kept (the Battle view layer's
663,552 weights; its 3 × 3 convolutions' 1,440 and 9,216 are cast each time: there the
bookkeeping of the gradient's way back costs more than the cast)."""
PACK_AFTER_READS = 2
"""A kept linear weight read this many times without changing is packed for oneDNN (packing
costs about five casts, so weights that change at every step, such as a target network's,
are never packed)."""


@functools.cache
def fused_cpu_ops() -> bool:
    """Whether this torch has oneDNN's fused convolution/linear + ReLU operators and they run
    on this CPU in bfloat16 (checked once per process on tiny tensors)."""
    try:
        mkldnn = torch.ops.mkldnn
        bf16 = torch.bfloat16
        image, kernel = torch.ones(1, 1, 3, 3, dtype=bf16), torch.ones(1, 1, 3, 3, dtype=bf16)
        conv = mkldnn._convolution_pointwise(
            image, kernel, None, [0, 0], [1, 1], [1, 1], 1, "relu", [], ""
        )
        packed = mkldnn._reorder_linear_weight(torch.ones(2, 4, dtype=bf16), 1)
        dense = mkldnn._linear_pointwise(torch.ones(1, 4, dtype=bf16), packed, None, "relu", [], "")
        return float(conv.sum()) == 9.0 and float(dense.sum()) == 8.0
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):
        return False


class _CastBack(torch.autograd.Function):
    """``cast`` (a bfloat16 copy of ``weight``) in the graph as if cast from ``weight``: the
    gradient flows back to ``weight`` in float32, as from autocast's cast."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, cast: torch.Tensor) -> torch.Tensor:
        ctx.dtype = weight.dtype
        return cast.view_as(cast)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.to(ctx.dtype), None


class _Held:
    """One weight's bfloat16 copy: the weight's (version, address) when cast, how often it
    was read since, and its packed layout once made."""

    __slots__ = ("key", "cast", "reads", "packed")

    def __init__(self, key: tuple[int, int], cast: torch.Tensor) -> None:
        self.key, self.cast, self.reads = key, cast, 0
        self.packed: torch.Tensor | None = None


class Bf16Weights:
    """bfloat16 copies of float32 parameters, keyed by each parameter's version and storage.

    ``casts`` counts the casts made (a read of a kept copy makes none). Copying or pickling a
    module that holds one gives an empty cache: the copies belong to the original's weights.
    """

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}
        self.casts = 0

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (Bf16Weights, ())

    def __call__(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight`` in bfloat16; inside the autograd graph when gradients are recorded."""
        if weight.requires_grad and torch.is_grad_enabled():
            if weight.numel() < KEPT_FROM:
                return weight.to(torch.bfloat16)
            return _CastBack.apply(weight, self._read(weight).cast)
        return self._read(weight).cast

    def linear_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """For a pass without gradients: the bfloat16 copy, in oneDNN's packed layout once it
        was read :data:`PACK_AFTER_READS` times unchanged."""
        held = self._read(weight)
        if held.packed is None and held.reads >= PACK_AFTER_READS:
            with torch.inference_mode(False), torch.no_grad():
                held.packed = torch.ops.mkldnn._reorder_linear_weight(held.cast)
        return held.cast if held.packed is None else held.packed

    def _read(self, weight: torch.Tensor) -> _Held:
        key = (weight._version, weight.data_ptr())
        held = self._held.get(id(weight))
        if held is None or held.key != key:
            held = _Held(key, self._cast(weight, None if held is None else held.cast))
            if track_fused_steps():  # (registers the hook with the first copy kept)
                self._held[id(weight)] = held
        held.reads += 1
        return held

    def _cast(self, weight: torch.Tensor, into: torch.Tensor | None) -> torch.Tensor:
        """A bfloat16 copy of ``weight``, written over the previous copy ``into`` where it has
        the shape (fresh memory costs page faults: casting into a new 2592 × 256 tensor was
        measured 7 times slower). A backward pass still holding the previous copy then
        fails on its version check, as it would in float32 after an optimizer step."""
        self.casts += 1
        # a normal tensor even during inference mode (the acting pass): the next update's
        # forward saves the same copy for its backward pass
        with torch.inference_mode(False), torch.no_grad():
            if into is not None and into.shape == weight.shape and into.device == weight.device:
                return into.copy_(weight)
            return weight.detach().to(torch.bfloat16)


PASS_THROUGH = (nn.ReLU, nn.Flatten, nn.AdaptiveAvgPool2d)
"""Layers that run in the dtype they receive, as under autocast."""


def bf16_layers(
    x: torch.Tensor, layers: tuple[nn.Module, ...], weights: Bf16Weights
) -> torch.Tensor:
    """``layers`` applied to ``x`` as under ``torch.autocast(dtype=torch.bfloat16)``: the
    convolutions and linear layers in bfloat16 (their inputs cast, their weights from
    ``weights``), everything in :data:`PASS_THROUGH` in the dtype it receives; without
    gradients on the CPU a convolution or linear layer and the ReLU after it run fused.
    Returns bfloat16 when the last weighted layer is followed only by pass-through layers."""
    fuse = x.device.type == "cpu" and not torch.is_grad_enabled() and fused_cpu_ops()
    i = 0
    while i < len(layers):
        layer = layers[i]
        then_relu = fuse and i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
        if isinstance(layer, nn.Conv2d) and layer.padding_mode == "zeros":
            then_relu = then_relu and isinstance(layer.padding, tuple)
            x = _conv(x.to(torch.bfloat16), layer, weights, then_relu)
        elif isinstance(layer, nn.Linear):
            x = _linear(x.to(torch.bfloat16), layer, weights, then_relu)
        elif isinstance(layer, PASS_THROUGH):
            x, then_relu = layer(x), False
        else:
            raise TypeError(f"bf16_layers: no bfloat16 rule for {type(layer).__name__}")
        i += 2 if then_relu else 1
    return x


def _conv(x: torch.Tensor, layer: nn.Conv2d, weights: Bf16Weights, relu: bool) -> torch.Tensor:
    bias = None if layer.bias is None else weights(layer.bias)
    if relu:
        return torch.ops.mkldnn._convolution_pointwise(
            x,
            weights(layer.weight),
            bias,
            list(layer.padding),
            list(layer.stride),
            list(layer.dilation),
            layer.groups,
            "relu",
            [],
            "",
        )
    return functional.conv2d(
        x,
        weights(layer.weight),
        bias,
        layer.stride,
        layer.padding,  # type: ignore[arg-type]
        layer.dilation,
        layer.groups,
    )


def _linear(x: torch.Tensor, layer: nn.Linear, weights: Bf16Weights, relu: bool) -> torch.Tensor:
    bias = None if layer.bias is None else weights(layer.bias)
    if relu:
        weight = weights.linear_weight(layer.weight)
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "relu", [], "")
    return functional.linear(x, weights(layer.weight), bias)
