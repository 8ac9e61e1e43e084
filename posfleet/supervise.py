"""Run a service's tasks until it is asked to stop, and notice a task that died early."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


async def run_until_stopped(stop: asyncio.Event, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Wait for ``stop`` (or for a task to end), then cancel every task and wait for them.

    A task that ended before the stop was asked for is a bug: it is raised as
    ``RuntimeError`` from the task's own exception.
    """
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(stopper, *tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError(f"{task.get_name()} stopped") from task.exception()
