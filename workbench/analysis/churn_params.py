"""The churn engine's training parameters, apart from the engine so the subject's parameter
declaration (:mod:`workbench.params`) takes its defaults from here without loading LightGBM, and
the reading of a driver's direction that the report and the truth table share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from workbench.errors import ParameterError

#: How strongly a feature's value and its contributions must agree (Spearman, the drivers'
#: ``direction``) for the driver to read as one-directional. On the demo's test month (about
#: 15,000 lines) the correlation's sampling error is under 0.01, so 0.2 is far outside noise while
#: still asking most lines' contributions to follow the value; the weakest planted reading there
#: is the unresolved complaints' 0.30 (an unresolved complaint is also a complaint, and the model
#: shares the effect between the two counts).
CLEAR_DIRECTION = 0.2


@dataclass(frozen=True)
class ChurnParams:
    """LightGBM and calibration parameters (defaults suit a few thousand to millions of rows).

    The defaults are deliberately shallow and slow-learning: churn tables are noisy and small
    trees generalise better (IBM Telco: stratified 5-fold AUC about 0.85).
    """

    num_boost_round: int = 400
    learning_rate: float = 0.02
    num_leaves: int = 7
    min_data_in_leaf: int = 50
    bagging_fraction: float = 0.8
    feature_fraction: float = 0.8
    lambda_l2: float = 1.0
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    calibration_folds: int = 3
    seed: int = 42
    num_threads: int = 1

    def __post_init__(self) -> None:
        checks = {
            "num_boost_round": self.num_boost_round >= 1,
            "learning_rate": 0 < self.learning_rate <= 1,
            "num_leaves": self.num_leaves >= 2,
            "min_data_in_leaf": self.min_data_in_leaf >= 1,
            "bagging_fraction": 0 < self.bagging_fraction <= 1,
            "feature_fraction": 0 < self.feature_fraction <= 1,
            "lambda_l2": self.lambda_l2 >= 0,
            "calibration": self.calibration in ("sigmoid", "isotonic"),
            "calibration_folds": self.calibration_folds >= 2,
            "num_threads": self.num_threads >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ParameterError(
                    f"churn parameter {name}={getattr(self, name)!r} is out of range"
                )

    def lightgbm_params(self) -> dict[str, Any]:
        """The LightGBM ``params`` dict: seeded and deterministic."""
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1 else 0,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbose": -1,
        }
