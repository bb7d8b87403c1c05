"""The one way to run independent tasks in parallel: local processes or Ray."""

from mfmarl.parallel.executor import (
    Executor,
    LocalExecutor,
    RayExecutor,
    Task,
    TaskResult,
    make_executor,
)

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "Task", "TaskResult", "make_executor"]
