"""Run a graph of steps on a bounded thread pool: each step starts once the steps it needs are done.

The build submits its tables this way to one SparkSession: Spark runs jobs from several driver
threads at once (FAIR scheduling pools share the executors between them), so while one table's
job waits on the driver (planning, listing files, committing a write) another's tasks use the
cores. Small tables, whose cost is mostly that fixed per-job wait, then overlap instead of
queueing.

The first failure stops the graph: nothing new starts, the running steps are asked to cancel
(``cancel``), and once every running step has returned the first error is raised. A step that
fails because it was cancelled is not reported as the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One unit of work: ``run()`` once every step named in ``needs`` has succeeded."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[], None]


class GraphError(ValueError):
    """The steps do not form a graph that can run: an unknown need or a cycle."""


def check_graph(steps: Mapping[str, Step]) -> None:
    """Every need names a step, and no step needs itself through others."""
    for step in steps.values():
        unknown = [n for n in step.needs if n not in steps]
        if unknown:
            raise GraphError(f"step {step.name!r} needs unknown step(s) {unknown}")
    done: set[str] = set()
    remaining = dict(steps)
    while remaining:
        ready = [n for n, s in remaining.items() if set(s.needs) <= done]
        if not ready:
            raise GraphError(f"steps wait on each other in a cycle: {sorted(remaining)}")
        done.update(ready)
        for name in ready:
            del remaining[name]


def run_graph(
    steps: list[Step],
    parallelism: int,
    *,
    on_start: Callable[[str, list[str], int, int], None] | None = None,
    cancel: Callable[[str], None] | None = None,
) -> None:
    """Run every step, at most ``parallelism`` at a time, each after the steps it needs.

    Ready steps start in the order they are listed, so listing them in a sensible serial order
    (the largest inputs first) keeps the critical path short.

    Args:
        on_start: ``(step, running, done, total)`` when a step starts (progress display).
        cancel: called with a running step's name after another step failed.

    Raises:
        GraphError: an unknown need or a cycle, before anything runs.
        BaseException: the first step's error; steps already running are cancelled first.
    """
    by_name = {s.name: s for s in steps}
    if len(by_name) != len(steps):
        raise GraphError("two steps have the same name")
    check_graph(by_name)
    done: set[str] = set()
    running: dict[Future[None], str] = {}
    pending = list(steps)
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="build") as pool:
        while (pending and failure is None) or running:
            if failure is None:
                for step in [s for s in pending if set(s.needs) <= done]:
                    if len(running) >= parallelism:
                        break
                    pending.remove(step)
                    running[pool.submit(step.run)] = step.name
                    if on_start is not None:
                        on_start(step.name, sorted(running.values()), len(done), len(steps))
            if not running:  # a checked graph always has a ready step while any is pending
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                error = future.exception()
                if error is None:
                    done.add(name)
                elif failure is None:
                    failure = error
                    log.error("step %s failed: %s; cancelling %s", name, error, running.values())
                    for other in running.values():
                        if cancel is not None:
                            cancel(other)
                else:
                    log.info("step %s stopped after the failure: %s", name, error)
    if failure is not None:
        raise failure
