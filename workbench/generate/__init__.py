"""The deterministic synthetic operator: raw extracts with planted effects and a manifest.

Entry point: :func:`generate_operator`. The simulation is :func:`simulate_lifecycles`.
"""

from workbench.generate.lifecycle import Scenario, simulate_lifecycles
from workbench.generate.operator import GeneratorError, generate_operator, lifecycle_frame

__all__ = [
    "GeneratorError",
    "Scenario",
    "generate_operator",
    "lifecycle_frame",
    "simulate_lifecycles",
]
