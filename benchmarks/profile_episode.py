"""Where a paper-preset Battle training episode spends its time, phase by phase.

    python benchmarks/profile_episode.py [--algo mfq] [--episodes 3] [--threads 1]
                                         [--device cpu] [--precision fp32] [--kernels 50]

Trains as ``episode.py``'s worker does (64 v 64, 40 × 40, 400 steps, one batch-64 update per
step) and times the last episode's phases by wrapping the training loop's calls: the
environment step, acting (one forward pass per group), the mean field rule, the replay's
inserts and samples, and the learner's update. On a GPU each wrapper synchronises the device
before reading the clock, so that queued kernels count in the phase that launched them (the
synchronisations cost time of their own: the episode runs slower than in ``episode.py``).
``--kernels N`` also runs torch's profiler over N steps of the last episode and prints the
operators that took the most host time and, on a GPU, the kernels that took the most device
time and how long the device was busy per step. Writes
``benchmarks/results/profile_<algo>_<device>.json``.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from common import battle_session, table, write_result

STEPS = 400
"""Steps of a paper-preset episode (until an army is wiped out, which early training never
sees)."""


class PhaseClock:
    """Seconds spent in each wrapped call while ``on``."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return fn(*args, **kwargs)
            self.sync()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.sync()
            self.seconds[phase] += time.perf_counter() - start
            self.calls[phase] += 1
            return out

        return timed


def kernel_summary(profiler: torch.profiler.profile, steps: int, cuda: bool) -> dict:
    """Top operators by host time; on a GPU, top kernels and the device's busy time per step."""
    averages = profiler.key_averages()
    by_host = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    print(f"\ntorch profiler, {steps} steps of the last episode, top operators by host time:")
    rows = [[e.key[:60], e.count / steps, e.self_cpu_time_total / 1e3 / steps] for e in by_host]
    print(table(["operator", "calls/step", "host ms/step"], rows))
    out: dict[str, Any] = {"host_ms_per_step": {r[0]: r[2] for r in rows}}
    if cuda:
        # kernels, copies and fills: the events that ran on the device itself (not the
        # device-side ranges of annotations such as ProfilerStep* or Optimizer.step#Adam.step)
        on_device = [
            e
            for e in averages
            if e.device_type == torch.autograd.DeviceType.CUDA
            and not e.key.startswith("ProfilerStep")
            and "#" not in e.key
        ]
        busy = sum(e.self_device_time_total for e in on_device) / 1e3 / steps
        launched = sum(e.count for e in on_device) / steps
        top = sorted(on_device, key=lambda e: e.self_device_time_total, reverse=True)[:8]
        rows = [[e.key[:60], e.count / steps, e.self_device_time_total / 1e3 / steps] for e in top]
        print("\nkernels with the most device time:")
        print(table(["kernel", "calls/step", "device ms/step"], rows))
        print(f"device busy {busy:.2f} ms per step; {launched:.0f} kernels and copies per step")
        out.update(device_busy_ms_per_step=busy, device_events_per_step=launched)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="mfq", choices=["mfq", "mfac", "iql", "iac"])
    parser.add_argument("--episodes", type=int, default=3, help="the last one is timed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--kernels", type=int, default=0, help="steps of torch's profiler")
    args = parser.parse_args(argv)

    from mfmarl.training.runtime import tune_cpu_runtime

    tune_cpu_runtime()  # as the command line does, before torch starts its threads
    torch.set_num_threads(args.threads)
    import mfmarl.training.loop as loop
    from mfmarl.buffers import AgentReplay

    session = battle_session(
        args.algo,
        algo_overrides={"precision": args.precision},
        episodes=args.episodes,
        device=args.device,
    )
    clock = PhaseClock(args.device)
    profiler: torch.profiler.profile | None = None
    if args.kernels:
        activities = [torch.profiler.ProfilerActivity.CPU]
        if clock.cuda:
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        wait = (args.episodes - 1) * STEPS + 50
        schedule = torch.profiler.schedule(wait=wait, warmup=5, active=args.kernels, repeat=1)
        profiler = torch.profiler.profile(activities=activities, schedule=schedule)

    env_step, steps = clock.wrap("environment", session.env.step), 0

    def step(actions: Any) -> Any:
        nonlocal steps
        steps += 1
        clock.on = steps > (args.episodes - 1) * STEPS  # the last episode only
        if profiler is not None:
            profiler.step()
        return env_step(actions)

    session.env.step = step  # type: ignore[method-assign]
    loop.act_together = clock.wrap("acting", loop.act_together)  # type: ignore[assignment]
    for rule in session.rules:
        rule.compute = clock.wrap("mean field", rule.compute)  # type: ignore[method-assign]
    AgentReplay.add = clock.wrap("replay add", AgentReplay.add)  # type: ignore[method-assign]
    AgentReplay.sample = clock.wrap("replay sample", AgentReplay.sample)  # type: ignore[method-assign]
    for learner in session.learners.values():
        learner.update = clock.wrap("update", learner.update)  # type: ignore[method-assign]
    if profiler is not None:
        profiler.start()
    metrics = list(session.run())
    if profiler is not None:
        profiler.stop()
    total, n = metrics[-1]["time/episode_seconds"], metrics[-1]["charts/episode_length"]
    timed = dict(clock.seconds)
    timed["loop (rest)"] = total - sum(timed.values())
    rows = [[k, 1e3 * v / n, 100 * v / total, clock.calls.get(k, n) / n] for k, v in timed.items()]
    name = torch.cuda.get_device_name() if clock.cuda else "cpu"
    print(
        f"profile ({args.algo}, paper preset, {args.device} [{name}], {args.precision}, "
        f"{args.threads} thread(s)): last episode {total:.2f} s, {n} steps"
    )
    print(table(["phase", "ms/step", "% of episode", "calls/step"], rows))
    result: dict[str, Any] = {
        "algo": args.algo,
        "device": args.device,
        "device_name": name,
        "precision": args.precision,
        "threads": args.threads,
        "episode_seconds": total,
        "steps": n,
        "ms_per_step": {k: 1e3 * v / n for k, v in timed.items()},
    }
    if profiler is not None:
        result["kernels"] = kernel_summary(profiler, args.kernels, clock.cuda)
    tag = f"profile_{args.algo}_{args.device.replace(':', '')}"
    print(f"wrote {write_result(tag, result)}")
    return result


if __name__ == "__main__":
    main()
