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


def _sleep_long(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_die_with_a_killed_parent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of the parent of a pool: its workers end too, within a few seconds."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, time\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_executor import _sleep_long\n"
        "from mfmarl.parallel.executor import LocalExecutor, Task\n"
        "LocalExecutor(2).map([Task(str(i), _sleep_long, (60.0,)) for i in range(2)])\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    parent = subprocess.Popen([sys.executable, "-c", code, here])
    try:
        deadline = time.monotonic() + 60
        children: list[int] = []
        while time.monotonic() < deadline and len(children) < 2:
            time.sleep(0.5)
            out = subprocess.run(
                ["pgrep", "-P", str(parent.pid)], capture_output=True, text=True
            ).stdout
            children = [int(p) for p in out.split()]
        assert children, "the pool never started"
        time.sleep(3)  # the workers have picked up their tasks
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        alive = children
        while time.monotonic() < deadline and alive:
            time.sleep(0.5)
            alive = [p for p in alive if _running(p)]
        assert not alive, f"orphaned workers still running: {alive}"
    finally:
        if parent.poll() is None:
            parent.kill()
