"""The child process of a report run: ``python .../workbench/reports/_execute.py SPEC.json``
(a plain script: it imports papermill only).

Running papermill in its own process lets the parent stop a run that hangs or exceeds its wall
clock (the kernel goes with it) and survive a kernel that dies. The outcome is written as JSON to
the spec's ``result`` path; the executed (or partial) notebook is saved as the cells run.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any


class Stopped(Exception):
    """The parent asked this run to stop (SIGTERM)."""


def _stop(signum: int, frame: Any) -> None:
    raise Stopped(f"stopped by signal {signum}")


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the notebook of ``spec``; returns status and, on failure, the error's name and text."""
    import papermill as pm

    try:
        pm.execute_notebook(
            spec["source"],
            spec["notebook"],
            parameters=spec["parameters"],
            kernel_name=spec["kernel_name"],
            cwd=spec["cwd"],
            progress_bar=False,
            execution_timeout=spec["cell_timeout"],
        )
    except pm.PapermillExecutionError as exc:
        return {"status": "failed", "ename": exc.ename, "evalue": str(exc.evalue)}
    except Stopped as exc:
        return {"status": "timeout", "ename": "Timeout", "evalue": str(exc)}
    except TimeoutError as exc:  # nbclient's CellTimeoutError: one cell ran too long
        return {"status": "timeout", "ename": type(exc).__name__, "evalue": str(exc)}
    except Exception as exc:  # DeadKernelError and friends: report, never hide
        return {"status": "failed", "ename": type(exc).__name__, "evalue": str(exc)}
    return {"status": "ok"}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    signal.signal(signal.SIGTERM, _stop)
    outcome = execute(spec)
    Path(spec["result"]).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if outcome["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
