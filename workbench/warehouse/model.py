"""How a derived table is declared: its inputs, its build function and the months it needs.

The layer modules (``dwd``, ``dws``, ``ads``) declare :class:`Model` objects; the build
orchestrator reads their inputs, calls ``build``, checks the catalog contracts and publishes the
result partition by partition. Build functions are pure: DataFrames in, a DataFrame out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class UndeclaredInputError(WorkbenchError):
    """A model read a table that is not among its declared inputs."""


class InputReader(Protocol):
    """Reads a catalog table, restricted to some months (``None``: every month there is)."""

    def __call__(self, table: str, months: list[str] | None = None) -> DataFrame: ...


@dataclass(frozen=True)
class BuildContext:
    """What a model build may know besides its inputs.

    Attributes:
        spark: the session (for ``createDataFrame`` of small reference data only).
        months: the output months to produce, ascending (empty for unpartitioned tables).
        all_months: every month present in the warehouse after this build, ascending.
        params: model parameters from configuration (e.g. the churn label horizon).
    """

    spark: SparkSession
    months: list[str]
    all_months: list[str]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Model:
    """A derived table and how to build it.

    Attributes:
        table: catalog name of the output table.
        inputs: catalog names of the tables it reads.
        build: ``(read, context) -> DataFrame`` with exactly the catalog columns.
        lookback_months: months of input history needed before each output month.
        lookahead_months: months after each output month the result depends on (a churn
            label over the next k months): rebuilding month M also rebuilds M-k..M-1.
    """

    table: str
    inputs: tuple[str, ...]
    build: Callable[[InputReader, BuildContext], DataFrame]
    lookback_months: int = 0
    lookahead_months: int = 0

    def run(self, read: InputReader, ctx: BuildContext) -> DataFrame:
        """Build the table, reading only the declared inputs.

        The declaration is what the build schedules on (a model starts once its inputs are
        staged) and what decides which months it rebuilds, so a read of anything else would see
        a table that may not be built yet: it fails at once instead.

        Raises:
            UndeclaredInputError: naming the model and the table it read.
        """
        declared = set(self.inputs)

        def read_declared(table: str, months: list[str] | None = None) -> DataFrame:
            if table not in declared:
                raise UndeclaredInputError(
                    f"model {self.table} read table {table!r}, which is not among its declared "
                    f"inputs ({', '.join(self.inputs) or 'none'}); add it to the model's inputs"
                )
            return read(table, months)

        return self.build(read_declared, ctx)
