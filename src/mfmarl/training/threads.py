"""How many torch CPU threads a run uses: a number, or ``0`` (auto) for the count that a short
probe of the run's own networks measures fastest on this machine.

More threads pay for the convolutions of a grid-view network on a batch of agents (a lone
64 v 64 Battle run on 2 idle cores: 2 threads 5.3 s per episode against 8.5 s with one) and
cost time for small MLPs, whose matrix products are too small to split. Which wins depends
on the CPU, the network and what else runs, so ``auto`` measures it: for each candidate count,
the best of a few repeats of one acting forward pass (every slot of the group) and one
update-sized forward and backward pass of each learner's network, on random inputs of the
run's shapes. A count is taken over a smaller one only when it is at least
:data:`MIN_GAIN` faster.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from mfmarl.algorithms.base import Learner
from mfmarl.core.errors import require

AUTO = 0
"""The ``threads`` value that asks for the probe."""
MIN_GAIN = 0.10
"""A larger thread count must be this much faster (fraction of the time) to be chosen."""
MAX_THREADS = 1024


@dataclass(frozen=True)
class ThreadChoice:
    """The chosen count and, when probed, the seconds per probe step of each candidate."""

    threads: int
    seconds: Mapping[int, float]

    def describe(self) -> str:
        """One line for the user, e.g. ``2 (auto: 1 thread 12.1 ms, 2 threads 7.4 ms)``."""
        if not self.seconds:
            return str(self.threads)
        timings = ", ".join(
            f"{n} thread{'s' if n > 1 else ''} {1e3 * s:.1f} ms" for n, s in self.seconds.items()
        )
        return f"{self.threads} (auto, per acting + update step of the networks: {timings})"


def check_threads(threads: int, name: str = "threads") -> None:
    """Refuse a thread count outside 0 (auto) and [1, :data:`MAX_THREADS`] (``name`` is the
    option or field named in the message)."""
    require(
        0 <= threads <= MAX_THREADS,
        f"{name}={threads} must be 0 (auto) or in [1, {MAX_THREADS}]",
    )


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def pick_threads(seconds: Mapping[int, float], min_gain: float = MIN_GAIN) -> int:
    """The fewest threads within reach of the fastest: going up from the smallest count, a
    count replaces the current choice only when it is at least ``min_gain`` faster.

    ``seconds``: probe time per candidate thread count (non-empty)."""
    require(len(seconds) > 0, "no thread counts were probed")
    counts = sorted(seconds)
    chosen = counts[0]
    for n in counts[1:]:
        if seconds[n] <= (1.0 - min_gain) * seconds[chosen]:
            chosen = n
    return chosen


def candidate_counts(cores: int, limit: int = 8) -> list[int]:
    """1, 2, 4, … up to ``min(cores, limit)``, and that count itself."""
    top = max(1, min(cores, limit))
    counts = [1 << i for i in range(top.bit_length()) if (1 << i) <= top]
    return sorted({*counts, top})


def probe_seconds(
    learners: Sequence[Learner], slots: Sequence[int], batch_size: int, repeats: int = 3
) -> float:
    """Best of ``repeats`` of one probe step at the current torch thread count: for each
    learner (its network copied, so nothing of the run changes), an acting forward pass over
    its ``slots`` agents without gradients, then a forward and backward pass on the rows of
    one update (``ceil(batch_size / slots)`` steps of ``slots`` agents)."""
    work = []
    for learner, n in zip(learners, slots):
        network = copy.deepcopy(learner.acting_network()).requires_grad_(True)
        steps = max(1, math.ceil(batch_size / n))
        acting = _inputs(learner, 1, n)
        update = _inputs(learner, steps, n)
        work.append((network, acting, update))
    best = math.inf
    for _ in range(repeats + 1):  # the first round warms up
        start = time.perf_counter()
        for network, acting, update in work:
            with torch.no_grad():
                network(*acting)
            network(*update).sum().backward()
        best = min(best, time.perf_counter() - start)
    return best


def _inputs(learner: Learner, steps: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    device = learner.device
    obs = torch.rand(steps, n, learner.obs_dim, device=device)
    mean_action = torch.rand(steps, n, learner.mean_action_dim, device=device)
    return obs, mean_action


def resolve_threads(
    threads: int,
    learners: Sequence[Learner] = (),
    slots: Sequence[int] = (),
    batch_size: int = 64,
    cores: int | None = None,
) -> ThreadChoice:
    """``threads`` itself when it is a count; for :data:`AUTO`, the count :func:`pick_threads`
    takes from probing ``learners`` (with ``slots`` agents each) at every
    :func:`candidate_counts` of ``cores`` (default: :func:`usable_cores`). Without learners,
    or on one core, auto is 1. Leaves torch at the chosen count."""
    check_threads(threads)
    if threads != AUTO:
        torch.set_num_threads(threads)
        return ThreadChoice(threads, {})
    counts = candidate_counts(usable_cores() if cores is None else cores)
    if not learners or len(counts) == 1:
        torch.set_num_threads(1)
        return ThreadChoice(1, {})
    seconds = {}
    for n in counts:
        torch.set_num_threads(n)
        seconds[n] = probe_seconds(learners, slots, batch_size)
    chosen = pick_threads(seconds)
    torch.set_num_threads(chosen)
    return ThreadChoice(chosen, seconds)
