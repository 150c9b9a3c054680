"""Lineage drawn as inline SVG (no Graphviz, no script): a box per node in its layout column,
a curve per edge; table boxes link to their pages."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from workbench.docs.lineage import layout

if TYPE_CHECKING:
    from workbench.docs.lineage import Lineage

BOX_W, BOX_H, COL_GAP, ROW_GAP, PAD = 200, 22, 70, 8, 10

#: fill of a box by its layer or kind (the colours of the legend)
COLOURS = {
    "raw": "#eceff1",
    "ods": "#e3f2fd",
    "quarantine": "#ffebee",
    "dwd": "#e8f5e9",
    "dws": "#fff8e1",
    "ads": "#f3e5f5",
    "report": "#e0f7fa",
    "lists": "#fbe9e7",
    "app": "#ede7f6",
}


def page_of(node: str) -> str | None:
    """The page a node links to: a table's own page; reports, apps and lists have none."""
    return None if ":" in node else f"table-{node}.html"


def lineage_svg(graph: Lineage, nodes: set[str] | None = None, focus: str | None = None) -> str:
    """The graph (or the part of it over ``nodes``) as an ``<svg>`` element."""
    where = layout(graph, nodes)
    xy = {
        n: (PAD + c * (BOX_W + COL_GAP), PAD + r * (BOX_H + ROW_GAP)) for n, (c, r) in where.items()
    }
    width = max(x for x, _ in xy.values()) + BOX_W + PAD
    height = max(y for _, y in xy.values()) + BOX_H + PAD
    parts = [
        f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
    ]
    for s, t in sorted(graph.edges):
        if s not in xy or t not in xy:
            continue
        (x1, y1), (x2, y2) = xy[s], xy[t]
        x1, y1, y2 = x1 + BOX_W, y1 + BOX_H / 2, y2 + BOX_H / 2
        bend = max(abs(x2 - x1) / 2, 40)
        parts.append(
            f'<path class="edge" d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}" '
            f'data-from="{escape(s)}" data-to="{escape(t)}"/>'
        )
    for n, (x, y) in sorted(xy.items()):
        node = graph.nodes[n]
        css = "node focus" if n == focus else "node"
        box = (
            f'<g class="{css}" id="node-{escape(n)}" data-node="{escape(n)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4" '
            f'fill="{COLOURS[node.group]}"/>'
            f'<text x="{x + 6}" y="{y + 15}">{escape(_label(node.kind, node.label))}</text>'
            "<title>" + escape(f"{node.group}: {node.label}") + "</title></g>"
        )
        page = page_of(n)
        parts.append(f'<a href="{page}">{box}</a>' if page else box)
    parts.append("</svg>")
    return "".join(parts)


def _label(kind: str, label: str) -> str:
    text = label if kind == "table" else f"{kind}: {label}"
    return text if len(text) <= 30 else text[:29] + "…"
