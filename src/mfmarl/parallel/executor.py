"""Run independent tasks (training runs, game batches) in parallel: a local process pool or
Ray.

A :class:`Task` is a module-level function and its picklable arguments. Tasks communicate
through files: each writes its outputs (checkpoints, metrics, match results) under the
experiment's output directory, which on a Ray cluster must be a path every node can read and
write (a shared file system). The value a task returns is small (a summary dict).

- :class:`LocalExecutor`: a ``spawn`` process pool (or this process when ``workers == 1``),
  one torch thread per task.
- :class:`RayExecutor`: one Ray task per :class:`Task` (``num_cpus=1``), either on a local
  Ray runtime started here with the machine's cores or on an existing cluster
  (``address``). Ray is imported only when this executor is made.

A task that raises is reported as a :class:`TaskResult` with its error, and the others still
run. Results are the same with either executor: every task seeds itself.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from mfmarl.core.errors import ConfigError, require

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a TCP connection to a Ray cluster's address before giving up."""


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args)``; ``key`` names it in reports."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    stoppable: bool = False
    """``fn`` takes a ``should_stop`` keyword: run in this process (one worker), it is asked
    between episodes, so Ctrl-C ends the running task cleanly instead of waiting for it."""


@dataclass(frozen=True)
class TaskResult:
    """What a task gave: its value, or its error (``"Type: message"``, one line) and the
    traceback."""

    key: str
    value: Any = None
    error: str | None = None
    traceback: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def one_line(exc: BaseException) -> str:
    """``"ValueError: message"`` on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def run_task(task: Task, should_stop: Callable[[], bool] | None = None) -> TaskResult:
    """Run ``task`` with one torch thread; an exception becomes a failed :class:`TaskResult`.
    ``should_stop`` reaches stoppable tasks (in-process runs only)."""
    import torch  # before magent2, which a task may import

    from mfmarl.training.runtime import tune_cpu_runtime

    tune_cpu_runtime()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        if task.stoppable and should_stop is not None:
            value = task.fn(*task.args, should_stop=should_stop)
        else:
            value = task.fn(*task.args)
    except Exception as exc:  # reported, not raised: the other tasks go on
        return TaskResult(
            task.key,
            error=one_line(exc),
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - started,
        )
    finally:
        torch.set_num_threads(threads)
    return TaskResult(task.key, value=value, seconds=time.perf_counter() - started)


OnDone = Callable[[TaskResult], None]
StopCheck = Callable[[], bool]


class Executor(Protocol):
    """Runs tasks; ``map`` returns their results in the order of ``tasks``."""

    description: str

    def map(
        self,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[TaskResult]: ...

    def close(self) -> None: ...


def die_with_parent(parent: int) -> None:
    """Make the kernel kill this process when its parent ``parent`` dies (Linux ``prctl``),
    and watch it from a daemon thread as well: a pool worker whose parent was killed
    (``kill -9``), even while the worker was still starting, must not go on training into
    files nobody will read."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the call took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="mfmarl-parent-watch").start()


def _init_worker(parent: int) -> None:
    """Pool workers: one torch thread; Ctrl-C is handled by the parent only; they end with
    their parent (the process ``parent`` that made the pool)."""
    import torch

    die_with_parent(parent)
    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class LocalExecutor:
    """A ``spawn`` process pool of ``workers`` processes (this process when 1)."""

    workers: int = 1
    description: str = field(init=False, default="")

    def __post_init__(self) -> None:
        require(self.workers >= 1, f"workers={self.workers} must be >= 1")
        self.description = f"{self.workers} local worker process(es)"

    def map(
        self,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[TaskResult]:
        stop = should_stop or (lambda: False)
        results: dict[int, TaskResult] = {}

        def finished(index: int, result: TaskResult) -> None:
            results[index] = result
            if on_done is not None:
                on_done(result)

        if self.workers == 1 or len(tasks) <= 1:
            for index, task in enumerate(tasks):
                if stop():
                    raise KeyboardInterrupt
                result = run_task(task, stop)
                if stop():  # a stoppable task returned early: keep it, then stop
                    finished(index, result)
                    raise KeyboardInterrupt
                finished(index, result)
        else:
            self._run_pool(tasks, finished, stop)
        return [results[i] for i in range(len(tasks))]

    def _run_pool(
        self,
        tasks: Sequence[Task],
        finished: Callable[[int, TaskResult], None],
        stop: StopCheck,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        pool = futures.ProcessPoolExecutor(
            min(self.workers, len(tasks)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        try:
            pending = {pool.submit(run_task, task): i for i, task in enumerate(tasks)}
            while pending:
                if stop():
                    raise KeyboardInterrupt
                done, _ = futures.wait(
                    pending, timeout=POLL_SECONDS, return_when=futures.FIRST_COMPLETED
                )
                for future in done:
                    index = pending.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # the worker process died (e.g. killed)
                        result = TaskResult(tasks[index].key, error=one_line(exc))
                    finished(index, result)
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown(wait=True)

    def close(self) -> None:
        pass


def _terminate(pool: futures.ProcessPoolExecutor) -> None:
    """Stop a pool at once: cancel what has not started and end its worker processes."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def check_ray_address(address: str) -> None:
    """Raise :class:`ConfigError` unless a TCP connection to ``address`` (``host:port`` or
    ``ray://host:port``) opens within :data:`CONNECT_TIMEOUT` seconds. Ray itself would retry
    for minutes. ``auto`` is left to Ray."""
    if address == "auto":
        return
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise ConfigError(f"--ray-address {address!r}: not host:port ({exc})") from exc
    if not host or port is None:
        raise ConfigError(f"--ray-address {address!r}: expected host:port")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        message = f"--ray-address {address}: cannot reach a Ray cluster ({reason})"
        raise ConfigError(message) from exc


class RayExecutor:
    """One Ray task per :class:`Task`; a local Ray runtime (``address=None``, ``num_cpus``
    cores) or an existing cluster. A runtime started here is shut down by :meth:`close`;
    one already running in this process is reused."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        if address is not None:
            check_ray_address(address)
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "Ray is not installed; install it with: pip install 'mfmarl[ray]'"
            ) from exc
        self._ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            if address is None:
                kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
            try:
                ray.init(address=address, **kwargs)
            except Exception as exc:
                where = address or "a local runtime"
                raise ConfigError(f"Ray: cannot start or join {where}: {one_line(exc)}") from exc
            self.started = True
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.description = f"Ray at {address or 'a local runtime'} ({cpus} CPUs)"
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_task)

    def map(
        self,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
        should_stop: StopCheck | None = None,
    ) -> list[TaskResult]:
        ray = self._ray
        stop = should_stop or (lambda: False)
        refs = {self._remote.remote(task): i for i, task in enumerate(tasks)}
        results: dict[int, TaskResult] = {}
        pending = list(refs)
        try:
            while pending:
                if stop():
                    raise KeyboardInterrupt
                done, pending = ray.wait(pending, num_returns=1, timeout=POLL_SECONDS)
                for ref in done:
                    index = refs[ref]
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the worker died, or Ray lost the task
                        result = TaskResult(tasks[index].key, error=one_line(exc))
                    results[index] = result
                    if on_done is not None:
                        on_done(result)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return [results[i] for i in range(len(tasks))]

    def close(self) -> None:
        if self.started and self._ray.is_initialized():
            self._ray.shutdown()
        self.started = False


def make_executor(
    workers: int = 1, ray: bool = False, ray_address: str | None = None
) -> LocalExecutor | RayExecutor:
    """A local pool of ``workers`` processes, or Ray (``ray``: a local runtime with
    ``workers`` CPUs; ``ray_address``: join that cluster)."""
    if ray_address is not None:
        return RayExecutor(address=ray_address)
    if ray:
        return RayExecutor(num_cpus=workers)
    return LocalExecutor(workers)
