"""What one Battle MF-Q update costs at batch 1 and at the paper's 64: its fixed part.

    python benchmarks/update_cost.py [--threads 2] [--precisions fp32 bf16]
                                     [--batches 1 8 64] [--steps 200] [--repeats 5]
    python benchmarks/update_cost.py --watch 40 [--threads 1]   # is this machine steady?

For each precision, trains one paper-preset episode (64 v 64, 40 × 40, 400 steps, as
``episode.py``'s worker does) so that the weights, Adam's moments and the replay are those of
a real run, keeps the last batch the learner was given, and then times ``learner.update`` on
its first k agent-transitions for every k in ``--batches`` (best of ``--repeats`` × ``--steps``
updates, batch sizes interleaved). The update's parts are timed by wrapping the calls it
makes (target pass, online pass, backward, clipping, Adam, soft updates), as
``profile_episode.py`` wraps the training loop's. What an update costs at batch 1 is the part
that does not shrink with the batch: passes over the weights (casts, Adam, clipping, soft
updates) and one call per operator. Writes ``benchmarks/results/update_cost.json``.

``--watch S`` instead times rounds of 100 updates at the largest batch size, back to back for
S seconds, in the first precision, and prints each round's ms per update (writes nothing):
the same work in one process, so what moves is the machine. On a shared virtual machine the
rounds can show whether a second vCPU is steady (docs/performance.md, "AMD EPYC").
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from common import battle_session, table, write_result
from profile_episode import PhaseClock

PARTS = {
    "target pass": ("target", "module", "forward"),
    "online pass": ("q", "forward"),
    "clipping": ("clip_gradients",),
    "Adam": ("optimizer", "step"),
    "target soft update": ("target", "follow"),
    "acting copy, average": ("follow",),
}
"""Timed parts of an update: the attribute path of the call from the learner."""


def trained_learner(precision: str) -> tuple[Any, Any]:
    """A learner after one paper-preset episode, and the last batch it was given."""
    session = battle_session("mfq", algo_overrides={"precision": precision}, episodes=1)
    learner = next(iter(session.learners.values()))
    kept: dict[str, Any] = {}
    update = learner.update

    def keep(batch: Any, step: int = 0) -> dict[str, float]:
        kept["batch"] = batch
        return update(batch, step)

    learner.update = keep  # type: ignore[method-assign]
    list(session.run())
    learner.update = update  # type: ignore[method-assign]
    return learner, kept["batch"]


def first_agents(batch: Any, k: int) -> Any:
    """``batch`` cut to its first ``k`` agent columns (every field is ``(steps, agents, ...)``)."""
    return type(batch)(*(field[:, :k] for field in batch))


def wrap_parts(learner: Any, clock: PhaseClock) -> None:
    """Time every call in :data:`PARTS` into ``clock``."""
    for name, path in PARTS.items():
        owner = learner
        for attr in path[:-1]:
            owner = getattr(owner, attr)
        setattr(owner, path[-1], clock.wrap(name, getattr(owner, path[-1])))


def measure(
    precision: str, batches: list[int], steps: int, repeats: int, clock: PhaseClock
) -> dict[str, Any]:
    """Best ms per update at each batch size, and its parts, for a learner in ``precision``."""
    learner, batch = trained_learner(precision)
    rows = {k: first_agents(batch, k) for k in batches}
    best = {k: float("inf") for k in batches}
    parts: dict[int, dict[str, float]] = {}
    wrap_parts(learner, clock)
    for rows_k in rows.values():  # one untimed round
        learner.update(rows_k, 0)
    for _ in range(repeats):
        for k, rows_k in rows.items():
            clock.seconds.clear()
            clock.on = True
            start = time.perf_counter()
            for _ in range(steps):
                learner.update(rows_k, 0)
            total = (time.perf_counter() - start) / steps
            clock.on = False
            if total < best[k]:
                best[k] = total
                parts[k] = {name: s / steps for name, s in clock.seconds.items()}
    out: dict[str, Any] = {}
    for k in batches:
        ms = {name: 1e3 * s for name, s in parts[k].items()}
        ms["rest (loss, casts, bookkeeping)"] = 1e3 * best[k] - sum(ms.values())
        out[str(k)] = {"update_ms": 1e3 * best[k], "parts_ms": ms}
    return out


def watch(precision: str, batch_size: int, seconds: float) -> list[float]:
    """ms per update of rounds of 100 updates, back to back for ``seconds``."""
    learner, batch = trained_learner(precision)
    rows = first_agents(batch, batch_size)
    learner.update(rows, 0)
    rounds: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(100):
            learner.update(rows, 0)
        rounds.append(10 * (time.perf_counter() - start))  # 1e3 ms / 100 updates
        print(f"{rounds[-1]:.1f}", end=" ", flush=True)
    print()
    return rounds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument("--steps", type=int, default=200, help="updates per timed round")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (best is kept)")
    parser.add_argument(
        "--watch",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="instead: print each 100-update round's ms per update for this long (no file)",
    )
    args = parser.parse_args(argv)

    from mfmarl.training.runtime import tune_cpu_runtime

    tune_cpu_runtime()  # as the command line does, before torch starts its threads
    torch.set_num_threads(args.threads)
    if args.watch > 0:
        precision, batch_size = args.precisions[0], max(args.batches)
        print(f"{precision}, {args.threads} thread(s), batch {batch_size}: ms per update")
        rounds = watch(precision, batch_size, args.watch)
        return {"threads": args.threads, "precision": precision, "rounds_ms": rounds}
    clock = PhaseClock("cpu")
    torch.Tensor.backward = clock.wrap("backward", torch.Tensor.backward)  # type: ignore[method-assign]
    result: dict[str, Any] = {"threads": args.threads, "precisions": {}}
    for precision in args.precisions:
        measured = measure(precision, args.batches, args.steps, args.repeats, clock)
        result["precisions"][precision] = measured
        big = str(max(args.batches))
        names = list(measured[big]["parts_ms"])
        rows = [
            [name] + [measured[str(k)]["parts_ms"][name] for k in args.batches] for name in names
        ]
        rows.append(["update"] + [measured[str(k)]["update_ms"] for k in args.batches])
        print(f"\n{precision}, {args.threads} thread(s): ms per update at batch size")
        print(table(["part"] + [str(k) for k in args.batches], rows))
    print(f"wrote {write_result('update_cost', result)}")
    return result


if __name__ == "__main__":
    main()
