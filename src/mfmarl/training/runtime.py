"""Process-wide CPU settings that training runs apply: they change speed, not results.

Both are properties of the process (and, for denormals, of each thread), so they are set by
the entry points (the command line, :func:`mfmarl.training.loop.train`,
:func:`mfmarl.training.battle.train_battle`) rather than hidden in a module import.
"""

from __future__ import annotations

import ctypes
import functools
import sys

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameter numbers (malloc.h)."""
MMAP_THRESHOLD_BYTES = 32 << 20
"""Blocks below this come from the heap, not from fresh ``mmap`` pages (glibc's maximum)."""
TRIM_THRESHOLD_BYTES = 64 << 20
"""Free memory at the heap's top that is kept for reuse instead of returned to the system."""


def flush_denormals() -> bool:
    """Make the CPU flush denormal floats (below 1.2e-38) to zero, in this thread and in the
    threads it starts from now on (torch's intra-op pool inherits the mode when it is
    created, so call this before the first multi-threaded torch operation). Returns whether
    the CPU supports it.

    Adam's first moment of a weight whose gradient stays zero (a dead ReLU unit) decays by
    β₁ per update into the denormal range, where every arithmetic operation on it is many
    times slower: in the Battle preset's third episode 41 % of the view layer's moments were
    denormal and the fused Adam step took 2.4 instead of 0.8 ms. Such moments move a weight
    by far less than its rounding: a 60 000-update Battle run gave bit for bit the same
    networks, and only Adam moments below 1e-38 differed.
    """
    return bool(torch.set_flush_denormal(True))


@functools.cache  # the process's allocator: once is enough
def reuse_freed_memory() -> bool:
    """Let glibc's ``malloc`` keep freed memory for the next allocation instead of handing
    it back to the system and faulting fresh pages in again. Returns whether it applied
    (glibc only; elsewhere nothing changes).

    Every update allocates and frees tensors of up to a few MB (activations, the 2.65 MB
    gradient of the Battle view layer). By default glibc returns the freed top of its heap
    once more than about twice the largest recent block is free, so the next update faults
    the pages in again: about 400 page faults per training step at 64 v 64. With blocks up to
    ``MMAP_THRESHOLD_BYTES`` served from the heap and ``TRIM_THRESHOLD_BYTES`` kept, the
    faults drop about 3.5×; the peak memory did not change.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # glibc's dynamic thresholds turn off once one is set, so both are set, mmap first.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


def tune_cpu_runtime() -> None:
    """:func:`flush_denormals` and :func:`reuse_freed_memory`: what training runs apply."""
    flush_denormals()
    reuse_freed_memory()
