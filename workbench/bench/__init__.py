"""The benchmark pack (``workbench bench`` / ``make bench``): how the workbench's cost grows.

Every figure comes from a measurement taken in the run that prints it: :mod:`.measure` (clocks,
peak memory of the driver JVM and the Python driver, the machine), :mod:`.reference` (the DuckDB
reference of the DWS subscriber-month table and the KPI cube, and the equality check),
:mod:`.pack` (the steps, the scale ladder and the results table).
"""

from workbench.bench.pack import BenchOptions, BenchResults, run_pack

__all__ = ["BenchOptions", "BenchResults", "run_pack"]
