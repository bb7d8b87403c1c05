"""The executor: results in task order, a failing task reported while the others finish,
unreachable Ray addresses refused at once."""

from __future__ import annotations

import socket
import time

import pytest

from mfmarl.core.errors import ConfigError
from mfmarl.parallel.executor import LocalExecutor, Task, check_ray_address, make_executor


def square_or_fail(x: int) -> int:
    if x == 2:
        raise ValueError("two is\nnot allowed")
    return x * x


def _tasks() -> list[Task]:
    return [Task(f"t{x}", square_or_fail, (x,)) for x in range(4)]


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_reports_a_failure_and_finishes_the_rest(workers: int) -> None:
    seen: list[str] = []
    results = LocalExecutor(workers).map(_tasks(), on_done=lambda r: seen.append(r.key))
    assert [r.key for r in results] == ["t0", "t1", "t2", "t3"]
    assert [r.value for r in results] == [0, 1, None, 9]
    failed = results[2]
    assert not failed.ok and failed.error == "ValueError: two is not allowed"
    assert "Traceback" in failed.traceback
    assert sorted(seen) == ["t0", "t1", "t2", "t3"]


def test_stop_request_interrupts() -> None:
    with pytest.raises(KeyboardInterrupt):
        LocalExecutor(1).map(_tasks(), should_stop=lambda: True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_ray_address_is_a_config_error_at_once() -> None:
    port = _closed_port()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="cannot reach a Ray cluster"):
        make_executor(ray_address=f"127.0.0.1:{port}")
    with pytest.raises(ConfigError, match="cannot reach"):
        check_ray_address(f"ray://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match="host:port"):
        check_ray_address("nonsense")
    assert time.perf_counter() - started < 10


def test_workers_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        LocalExecutor(0)
