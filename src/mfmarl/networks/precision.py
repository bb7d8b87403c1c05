"""Which arithmetic the grid-view networks run in: fp32, bf16, or ``auto``.

bf16 (torch autocast around the convolutions and the view's dense layer) pays only where the
hardware multiplies bfloat16 natively: on CPUs with AMX or AVX512-BF16, and on GPUs that
support it. Elsewhere torch emulates it, and a Battle episode was measured four times slower
on an AMD EPYC without either (docs/performance.md). Native support is not enough either: at
the Battle networks' batch sizes an H200 spends its time launching kernels, and autocast's
casts made a paper-preset episode 17% slower there. ``auto`` picks bf16 only where the device
reports native support *and* a short probe at the Battle network's size is faster; an
explicit ``bf16`` on a CPU without native support is kept, with a warning.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "auto")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of CPUs that multiply bfloat16 in hardware."""


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The first CPU's flags from ``/proc/cpuinfo`` (empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """Whether ``device`` multiplies bfloat16 in hardware."""
    if torch.device(device).type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return any(flag in cpu_flags() for flag in NATIVE_BF16_FLAGS)


def _probe_seconds(
    dtype: torch.dtype | None, batch: int = 256, repeats: int = 3, device: str = "cpu"
) -> float:
    """Best time of a forward and backward pass of the Battle view encoder (13x13x7 views,
    34 features) on ``batch`` agents, in bf16 (``dtype``) or fp32 (None), on ``device``."""
    from mfmarl.networks.view import ViewEncoder  # (view imports this module)

    torch.manual_seed(0)
    precision = "fp32" if dtype is None else "bf16"
    net = ViewEncoder((13, 13, 7), 34, precision=precision).to(device)
    x = torch.rand(batch, 1, 13 * 13 * 7 + 34, device=device)
    on_gpu = torch.device(device).type == "cuda"
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        net(x).sum().backward()
        if on_gpu:
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def bf16_pays(device: str = "cpu") -> bool:
    """Native bf16 on ``device`` (``cpu``, ``cuda`` or ``cuda:N``), and the probe at least
    10% faster than fp32 there (measured once per process and device)."""
    if not native_bf16(device):
        return False
    fp32 = _probe_seconds(None, device=device)
    bf16 = _probe_seconds(torch.bfloat16, device=device)
    log.info("precision probe on %s: fp32 %.2f ms, bf16 %.2f ms", device, 1e3 * fp32, 1e3 * bf16)
    return bf16 < 0.9 * fp32


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``fp32`` or ``bf16`` for the networks: ``auto`` resolved for ``device``; an explicit
    ``bf16`` where the hardware lacks it is kept, with a warning."""
    kind = torch.device(device).type
    if precision == "auto":
        return "bf16" if bf16_pays(str(torch.device(device))) else "fp32"
    if precision == "bf16" and not native_bf16(device):
        _warn_emulated(kind)
    return precision


@functools.cache
def _warn_emulated(kind: str) -> None:
    log.warning(
        "precision bf16 on a %s without native bfloat16 (AMX or AVX512-BF16 on CPUs): torch "
        "emulates it, which was measured up to 4x slower than fp32; --precision auto picks "
        "what is faster here",
        kind.upper(),
    )
