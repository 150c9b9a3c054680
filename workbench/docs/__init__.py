"""``workbench docs``: a static data dictionary built from the catalog, the model registry, the
KPI dictionary and the build ledger (one page per table and per KPI, a lineage graph, a search
box), readable from the folder or served on 127.0.0.1. No external assets: it opens offline."""
