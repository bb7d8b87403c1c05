"""Which arithmetic the grid-view networks run in: fp32, bf16, or ``auto``.

bf16 (the convolutions and the view's dense layer in bfloat16, as under torch autocast:
:mod:`mfmarl.networks.bf16`) pays only where the
hardware multiplies bfloat16 natively: on CPUs with AMX or AVX512-BF16, and on GPUs that
support it. Elsewhere torch emulates it, and a Battle episode was measured four times slower
on an AMD EPYC without either (docs/performance.md). Native support is not enough either: at
the Battle networks' batch sizes an H200 spends its time launching kernels, and autocast's
casts made a paper-preset episode 17% slower there (measured before the bfloat16 copies were
kept between weight changes; not measured since). ``auto`` picks bf16 only where the device
reports native support *and* a short probe at the Battle network's size is faster; an
explicit ``bf16`` on a CPU without native support is kept, with a warning that states the
cost the same probe measured there.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from mfmarl.core.errors import require_choice

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
    net = ViewEncoder((13, 13, 7), 34, precision="fp32").to(device)
    net.precision = "fp32" if dtype is None else "bf16"  # (set, not resolved: no warning)
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


_pinned: dict[str, str] = {}
"""``auto``'s decision fixed per device (:func:`pinned_auto`: a resumed run keeps its own)."""


def _device_key(device: str | torch.device) -> str:
    return str(torch.device(device))


@functools.cache
def probe_bf16(device: str = "cpu") -> tuple[float, float]:
    """``(fp32, bf16)`` seconds of :func:`_probe_seconds` on ``device``, measured once per
    process and device. torch's random state is left as it was: the probe runs inside the
    first learner's construction, whose seeded initialisation must not depend on whether
    this process probed before."""
    on_gpu = torch.device(device).type == "cuda" and torch.cuda.is_available()
    gpus = [torch.device(device)] if on_gpu else []
    with torch.random.fork_rng(devices=gpus):
        fp32 = _probe_seconds(None, device=device)
        bf16 = _probe_seconds(torch.bfloat16, device=device)
    log.info("precision probe on %s: fp32 %.2f ms, bf16 %.2f ms", device, 1e3 * fp32, 1e3 * bf16)
    return fp32, bf16


def auto_choice(device: str | torch.device = "cpu") -> tuple[str, str]:
    """What ``auto`` picks on ``device`` and why, e.g. ``("bf16", "probe on cpu: fp32 14.6
    ms, bf16 8.9 ms")``: bf16 only with native support and a probe at least 10% faster."""
    key = _device_key(device)
    if key in _pinned:
        if _pinned[key] == "bf16" and not native_bf16(key):
            _warn_emulated(torch.device(key).type)  # kept, but slow here
        return _pinned[key], "as the run started"
    if not native_bf16(key):
        return "fp32", f"no native bfloat16 on this {torch.device(key).type}"
    fp32, bf16 = probe_bf16(key)
    why = f"probe on {key}: fp32 {1e3 * fp32:.1f} ms, bf16 {1e3 * bf16:.1f} ms"
    return ("bf16" if bf16 < 0.9 * fp32 else "fp32"), why


@contextlib.contextmanager
def pinned_auto(choice: str | None, device: str | torch.device = "cpu") -> Iterator[None]:
    """Within the block, ``auto`` resolves to ``choice`` on ``device`` without probing (a
    resumed run continues in the arithmetic it started with, on any machine); ``None``
    pins nothing."""
    if choice is None:
        yield
        return
    require_choice("precision", choice, ("fp32", "bf16"))
    key = _device_key(device)
    before = _pinned.get(key)
    _pinned[key] = choice
    try:
        yield
    finally:
        if before is None:
            del _pinned[key]
        else:
            _pinned[key] = before


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``fp32`` or ``bf16`` for the networks: ``auto`` resolved for ``device``
    (:func:`auto_choice`); an explicit ``bf16`` where the hardware lacks it is kept, with a
    warning stating the probe's measured cost."""
    if precision == "auto":
        return auto_choice(device)[0]
    if precision == "bf16" and not native_bf16(device):
        _warn_emulated(torch.device(device).type)
    return precision


@functools.cache
def _warn_emulated(kind: str) -> None:
    """Warn once per device kind that bf16 is emulated here, with what the probe measured."""
    fp32, bf16 = probe_bf16(kind)
    log.warning(
        "precision bf16 on a %s without native bfloat16 (AMX or AVX512-BF16 on CPUs): torch "
        "emulates it; a probe here measured bf16 %.1f ms against fp32 %.1f ms per "
        "forward and backward pass (%s); --precision auto picks what is faster here",
        kind.upper(),
        1e3 * bf16,
        1e3 * fp32,
        _relative(bf16, fp32),
    )


def _relative(bf16: float, fp32: float) -> str:
    """``"3.2x slower"`` / ``"1.4x faster"``: bf16's time against fp32's."""
    if bf16 >= fp32:
        return f"{bf16 / fp32:.1f}x slower"
    return f"{fp32 / bf16:.1f}x faster"
