"""The lineage graph, from raw extracts to the reports and apps, derived from what the code says.

Nothing here is declared a second time: raw -> ODS edges come from the ODS names
(:data:`workbench.catalog.ods.ODS_NAMES`), warehouse edges from each model's inputs, and the
edges of the reports, the apps and the target lists from the catalog tables their modules name:
a table a subject passes to a ``write_*`` call is one it writes, any other it names is one it
reads; the target lists write the tables of :mod:`workbench.catalog.targets`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from workbench.catalog import Table, tables

NodeKind = Literal["table", "report", "app", "lists"]

#: columns of the drawing, left to right (reports and apps after the marts they read)
RANKS = ("raw", "ods", "quarantine", "dwd", "dws", "ads", "report", "lists", "app")


@dataclass(frozen=True)
class Node:
    id: str  # a table's name, ``report:<subject>``, ``app:<app>`` or ``lists:targets``
    kind: NodeKind
    label: str
    group: str  # the table's layer, or the kind


@dataclass
class Lineage:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)

    def add(self, source: str, target: str) -> None:
        if source != target:
            self.edges.add((source, target))

    def upstream(self, node: str) -> list[str]:
        return sorted(s for s, t in self.edges if t == node)

    def downstream(self, node: str) -> list[str]:
        return sorted(t for s, t in self.edges if s == node)

    def reaching(self, node: str) -> set[str]:
        """Every node upstream or downstream of ``node`` (its whole lineage), itself included."""
        return self._walk(node, self.upstream) | self._walk(node, self.downstream)

    def _walk(self, node: str, step: Callable[[str], list[str]]) -> set[str]:
        found, todo = {node}, [node]
        while todo:
            for other in step(todo.pop()):
                if other not in found:
                    found.add(other)
                    todo.append(other)
        return found


def named_tables(source: str, known: set[str]) -> tuple[set[str], set[str]]:
    """The catalog tables a module's source names: (read, written). A name passed to a call of
    a ``write*`` function, or assigned to a name the module passes to one, is written."""
    tree = ast.parse(source)
    constants = {
        node.targets[0].id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and node.value.value in known
    }
    named = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in known}
    written = set()
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if not name.startswith("write"):
            continue
        for arg in call.args:
            if isinstance(arg, ast.Constant) and arg.value in known:
                written.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                written.add(constants[arg.id])
    return named - written, written


def _module_source(name: str) -> str:
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return inspect.getsource(module)
    # a package: every module in it
    from pathlib import Path

    return "\n".join(
        p.read_text(encoding="utf-8") for p in sorted(Path(module.__path__[0]).glob("*.py"))
    )


def _consumers() -> list[tuple[Node, str]]:
    from workbench.dashboards import APP_INFO
    from workbench.subjects import SUBJECTS

    found = [
        (Node(f"report:{s}", "report", s, "report"), f"workbench.subjects.{s}") for s in SUBJECTS
    ]
    found += [
        (Node(f"app:{a}", "app", info.title_en, "app"), f"workbench.dashboards.{a}")
        for a, info in APP_INFO.items()
    ]
    found.append((Node("lists:targets", "lists", "target lists", "lists"), "workbench.targets"))
    return found


def build_lineage() -> Lineage:
    """The whole graph: every catalog table, every subject report, every app, the target lists."""
    from workbench.catalog import targets as target_tables
    from workbench.catalog.ods import ODS_NAMES
    from workbench.warehouse.models import MODELS

    graph = Lineage()
    for table in tables():
        graph.nodes[table.name] = Node(table.name, "table", table.name, table.layer)
    for raw, ods in ODS_NAMES.items():
        graph.add(raw, ods)
        graph.add(raw, "quarantine_rows")  # every extract's rejected rows land there
    for model in MODELS:
        for source in model.inputs:
            graph.add(source, model.table)
    # apps, reports and lists read the warehouse, never a raw extract (and raw names such as
    # "complaints" are also ordinary words in their code)
    known = {t.name for t in tables() if t.layer != "raw"}
    for node, module in _consumers():
        graph.nodes[node.id] = node
        read, written = named_tables(_module_source(module), known)
        if node.kind == "lists":
            owned = {v.name for v in vars(target_tables).values() if isinstance(v, Table)}
            written, read = written | (read & owned), read - owned
        for table in read:
            graph.add(table, node.id)
        for table in written:
            graph.add(node.id, table)
    return graph


def _forward_edges(graph: Lineage, edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges left once each loop is cut. The one loop there is, the target lists' (exports
    write the campaign tables the next export reads), is cut where a list writes: its tables
    then sit right of it. Any other loop is cut where a depth-first walk from the raw extracts
    closes it."""
    kept = [
        (s, t)
        for s, t in edges
        if graph.nodes[s].kind == "table" or s not in graph._walk(t, graph.downstream)
    ]
    out: dict[str, list[str]] = defaultdict(list)
    for s, t in kept:
        out[s].append(t)
    order = {g: i for i, g in enumerate(RANKS)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    back = set()
    for start in sorted(out, key=lambda n: (order[graph.nodes[n].group], n)):
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(sorted(out[start])))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(out[child]))))
    return [e for e in kept if e not in back]


def layout(graph: Lineage, nodes: set[str] | None = None) -> dict[str, tuple[int, int]]:
    """A column and a row for each node: the column is the longest path from a source (so every
    edge but those closing a loop points right), rows by group and name within a column."""
    chosen = set(graph.nodes) if nodes is None else nodes
    edges = _forward_edges(
        graph, sorted((s, t) for s, t in graph.edges if s in chosen and t in chosen)
    )
    rank = dict.fromkeys(chosen, 0)
    for _ in range(len(chosen)):  # longest path by relaxation; acyclic, so it settles
        changed = False
        for s, t in edges:
            if rank[t] < rank[s] + 1:
                rank[t] = rank[s] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = defaultdict(list)
    for n in chosen:
        columns[rank[n]].append(n)
    order = {g: i for i, g in enumerate(RANKS)}
    return {
        n: (col, row)
        for col, members in columns.items()
        for row, n in enumerate(
            sorted(members, key=lambda m: (order[graph.nodes[m].group], graph.nodes[m].label))
        )
    }
