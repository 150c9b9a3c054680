"""Bring your own operator: turn an operator's delimited extract dumps into the raw layer.

- :mod:`.mapping`: the mapping file ``pipelines/sources/<name>.yml``, validated;
- :mod:`.lines`: Spark transforms from dump lines to catalog rows and rejected lines;
- :mod:`.run`: ``workbench ingest``: read, convert, count, stage and publish each month;
- :mod:`.contract`: the raw contract (what an extract must hold), generated from the catalog.
"""
