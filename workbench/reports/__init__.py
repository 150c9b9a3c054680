"""Subject reports: run a notebook with papermill, publish it, record it, schedule it.

A run of subject ``s`` for month ``p`` (and optionally region ``r``) writes, under
``<paths.reports>/<s>/<p>/[<r>/]``:

* ``<s>.ipynb``: the executed notebook (parameters injected, every output kept);
* ``<s>.html``: the same without code cells, for managers (nbconvert, ``exclude_input``);
* ``run.json``: subject, period, parameters, timing and the files written;
* whatever the notebook saves beside them (the churn model bundle under ``model/``, metrics).

Modules: :mod:`~workbench.reports.runner` (run and publish), :mod:`~workbench.reports.ledger`
(the run ledger), :mod:`~workbench.reports.index` (``index.html``), :mod:`~workbench.reports.
schedule` (``pipelines/schedules.yml`` and ``report due``), :mod:`~workbench.reports.notebook`
(:func:`open_run`, :func:`show`, :func:`show_html`, :func:`show_table`, which the notebooks
call); delivery by email after ``report due``: :mod:`~workbench.reports.subscriptions` (who
receives what), :mod:`~workbench.reports.delivery` (which messages, with what in them),
:mod:`~workbench.reports.mail` (building and sending) and :mod:`~workbench.reports.outbox`
(each message once).
"""

from workbench.reports.notebook import RunContext, open_run, show, show_html, show_table
from workbench.reports.paths import (
    ReportError,
    notebook_path,
    notebooks_dir,
    report_dir,
    runs_dir,
)
from workbench.reports.runner import (
    KERNEL,
    RUN_FILE,
    ReportPaths,
    RunOutcome,
    execute_report,
    list_regions,
    run_notebook,
    run_regions,
    run_subject,
    write_html,
)

__all__ = [
    "KERNEL",
    "RUN_FILE",
    "ReportError",
    "ReportPaths",
    "RunContext",
    "RunOutcome",
    "execute_report",
    "list_regions",
    "notebook_path",
    "notebooks_dir",
    "open_run",
    "report_dir",
    "run_notebook",
    "run_regions",
    "run_subject",
    "runs_dir",
    "show",
    "show_html",
    "show_table",
    "write_html",
]
