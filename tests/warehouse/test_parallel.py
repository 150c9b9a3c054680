"""The build's step graph: order, bounded parallelism, first failure, cancellation, bad graphs."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.warehouse.parallel import GraphError, Step, run_graph


def test_each_step_starts_after_its_needs_and_at_most_n_run_at_once():
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def work(name: str):
        def run() -> None:
            with lock:
                log.append(("start", name))
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            time.sleep(0.05)
            with lock:
                running["now"] -= 1
                log.append(("end", name))

        return run

    graph = {"a": (), "b": (), "c": (), "d": ("a", "b"), "e": ("d",), "f": ("c",)}
    run_graph([Step(n, needs, work(n)) for n, needs in graph.items()], parallelism=2)
    position = {event: i for i, event in enumerate(log)}
    for name, needs in graph.items():
        for need in needs:
            assert position[("end", need)] < position[("start", name)], (need, name)
    assert running["most"] == 2
    assert {n for kind, n in log if kind == "end"} == set(graph)


def test_the_first_failure_is_raised_cancels_the_running_and_starts_nothing_new():
    started: list[str] = []
    cancelled: list[str] = []
    release = threading.Event()

    def slow() -> None:
        started.append("slow")
        if not release.wait(10):
            raise AssertionError("never cancelled")
        raise RuntimeError("cancelled")  # what a cancelled Spark job raises

    def broken() -> None:
        started.append("broken")
        time.sleep(0.05)
        raise ValueError("the real error")

    def cancel(name: str) -> None:
        cancelled.append(name)
        release.set()

    steps = [
        Step("slow", (), slow),
        Step("broken", (), broken),
        Step("after", ("broken",), lambda: started.append("after")),
        Step("later", ("slow",), lambda: started.append("later")),
    ]
    with pytest.raises(ValueError, match="the real error"):
        run_graph(steps, parallelism=2, cancel=cancel)
    assert cancelled == ["slow"]
    assert sorted(started) == ["broken", "slow"]


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ({"a": ("b",), "b": ("a",)}, "cycle"),
        ({"a": ("missing",)}, "unknown step"),
    ],
)
def test_a_graph_that_cannot_run_is_refused_before_anything_runs(graph, message):
    ran: list[str] = []
    steps = [Step(n, needs, lambda n=n: ran.append(n)) for n, needs in graph.items()]
    with pytest.raises(GraphError, match=message):
        run_graph(steps, parallelism=2)
    assert ran == []
