"""The layered warehouse: ODS (typed, validated), DWD (facts and dimensions), DWS (summaries),
ADS (application marts). Transforms live in the layer modules; :mod:`workbench.warehouse.build`
wires them and writes the tables."""
