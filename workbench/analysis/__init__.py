"""Subject analyses as package APIs: churn models and cross-sell basket rules.

The engines work on generic inputs (any labelled customer table, any transactions table) so
notebooks, marts and tests call the same code. Nothing is started at import time.
"""

from workbench.errors import InputDataError, ParameterError

__all__ = ["InputDataError", "ParameterError"]
