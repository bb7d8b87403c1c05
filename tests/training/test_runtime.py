"""Process settings that training applies: freed memory is reused without page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

# numpy arrays, not tensors: a tensor's small bookkeeping allocations can land above its data
# on the heap, and whether they do varies from run to run (the default then sometimes keeps
# the blocks by chance); an array's object lives in Python's own arenas.
ROUNDS = """
import resource, sys
import numpy as np
from mfmarl.training.runtime import reuse_freed_memory
if sys.argv[1] == "tuned":
    assert reuse_freed_memory()
def rounds(n):  # an update's pattern: several MB-sized arrays made, then all freed
    for _ in range(n):
        blocks = [np.ones(3 << 18, dtype=np.float32) for _ in range(4)]
        del blocks
rounds(2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_reused_memory_is_not_faulted_in_again() -> None:
    """By default glibc hands the freed 12 MB back and faults it in again every round: 20
    rounds of 4 blocks of 768 pages (4 KB each). With :func:`reuse_freed_memory` it is kept
    (measured 0 or, once, one block's 768)."""
    pages = 20 * 4 * 768
    assert _page_faults("default") >= pages // 2
    assert _page_faults("tuned") <= 2 * 768
