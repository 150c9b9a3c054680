"""Churn models: LightGBM with calibrated probabilities, drivers, reason codes, Spark scoring.

The same API trains and evaluates on any labelled customer table (one row per customer, an id
column, a binary label column, numeric and categorical features). Training and evaluation run in
pandas on the driver (a sample is fine); scoring the whole base runs inside Spark with
``mapInPandas`` and the model broadcast, so the data is never collected.

Probabilities are calibrated the way scikit-learn's ``CalibratedClassifierCV(ensemble=False)``
does it: out-of-fold raw scores of a seeded stratified k-fold fit the calibrator (Platt sigmoid or
isotonic), and the final booster is trained on every training row. Contributions (reason codes,
drivers) are LightGBM's own tree SHAP values (``pred_contrib=True``) on the log-odds scale.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from workbench.analysis.churn_params import ChurnParams
from workbench.analysis.metrics import binary_metrics, calibration_table, lift_table, pr_curve
from workbench.catalog.schema import Label
from workbench.errors import InputDataError, ParameterError, require_columns
from workbench.formats import format_value
from workbench.months import add_months, parse_month

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkDataFrame

log = logging.getLogger(__name__)

BUNDLE_FILE = "bundle.json"
BOOSTER_FILE = "booster.txt"
N_DECILES = 10
# Deciles 1-2 are "high" risk, 3-5 "medium", the rest "low".
BANDS: tuple[tuple[int, str], ...] = ((2, "high"), (5, "medium"), (N_DECILES, "low"))


@dataclass(frozen=True)
class FeatureSpec:
    """How a table becomes a feature matrix: which columns, and the levels of categorical ones.

    ``categories`` maps each categorical feature to its training levels; a level unseen in
    training scores as missing.
    """

    id_column: str
    label_column: str
    positive_label: Any
    features: tuple[str, ...]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f in self.categories)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = {k: list(v) for k, v in self.categories.items()}
        data["features"] = list(self.features)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            id_column=data["id_column"],
            label_column=data["label_column"],
            positive_label=data["positive_label"],
            features=tuple(data["features"]),
            categories={k: tuple(v) for k, v in data["categories"].items()},
        )


@dataclass(frozen=True)
class PreparedData:
    """A feature matrix with its ids and 0/1 labels, and the spec that made it."""

    ids: np.ndarray
    X: np.ndarray
    y: np.ndarray
    spec: FeatureSpec

    def subset(self, rows: np.ndarray) -> PreparedData:
        return PreparedData(self.ids[rows], self.X[rows], self.y[rows], self.spec)


@dataclass(frozen=True)
class Calibrator:
    """Maps LightGBM's raw score (log-odds) to a probability; stored as plain numbers."""

    kind: Literal["sigmoid", "isotonic"]
    slope: float = 1.0
    intercept: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.kind == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.slope * raw + self.intercept)))
        # IsotonicRegression(out_of_bounds="clip").predict is this linear interpolation.
        return np.interp(raw, np.asarray(self.x), np.asarray(self.y))

    @classmethod
    def fit(cls, kind: str, raw: np.ndarray, y: np.ndarray, seed: int) -> Calibrator:
        if kind == "sigmoid":
            lr = LogisticRegression(C=1e6, random_state=seed).fit(raw.reshape(-1, 1), y)
            return cls("sigmoid", slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]))
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
        return cls(
            "isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )


@dataclass(frozen=True)
class ChurnModel:
    """A trained model bundle: booster, feature spec, calibrator, risk-decile edges and lineage.

    ``decile_edges`` are the 10th..90th percentiles of the out-of-fold training probabilities,
    so the risk decile of a row depends on that row only (Spark scores it without a global sort).
    ``model_id`` hashes everything that decides a score; scoring writes it beside each score.
    """

    booster: lgb.Booster
    spec: FeatureSpec
    params: ChurnParams
    calibrator: Calibrator
    decile_edges: tuple[float, ...]
    training_window: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: per feature, its training distribution at the 0th..100th percentile (empty for a
    #: categorical one): where a scored value stands in the base, for the reason texts
    feature_quantiles: tuple[tuple[float, ...], ...] = ()

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.spec.features

    @property
    def model_id(self) -> str:
        return _model_id(self.booster.model_to_string(), self._scoring_metadata())

    def _scoring_metadata(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "calibrator": asdict(self.calibrator),
            "decile_edges": list(self.decile_edges),
            "feature_quantiles": [list(q) for q in self.feature_quantiles],
        }

    def to_payload(self) -> dict[str, Any]:
        """Plain data (JSON-able but for the booster text) that rebuilds the model anywhere."""
        return {
            "model_id": self.model_id,
            "booster": self.booster.model_to_string(),
            "params": asdict(self.params),
            "training_window": self.training_window,
            "metrics": self.metrics,
            **self._scoring_metadata(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ChurnModel:
        cal = payload["calibrator"]
        return cls(
            booster=lgb.Booster(model_str=payload["booster"]),
            spec=FeatureSpec.from_dict(payload["spec"]),
            params=ChurnParams(**payload["params"]),
            calibrator=Calibrator(
                kind=cal["kind"],
                slope=cal["slope"],
                intercept=cal["intercept"],
                x=tuple(cal["x"]),
                y=tuple(cal["y"]),
            ),
            decile_edges=tuple(payload["decile_edges"]),
            training_window=payload.get("training_window"),
            metrics=payload.get("metrics") or {},
            feature_quantiles=tuple(tuple(q) for q in payload.get("feature_quantiles") or ()),
        )

    # -- prediction on a feature matrix ---------------------------------------------------------
    def raw_score(self, X: np.ndarray) -> np.ndarray:
        return self.booster.predict(X, raw_score=True)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated churn probability per row of a matrix from :func:`encode_features`."""
        return self.calibrator(self.raw_score(X))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Tree SHAP contributions (log-odds) per row and feature, the bias column dropped."""
        return np.asarray(self.booster.predict(X, pred_contrib=True))[:, :-1]

    def risk_decile(self, proba: np.ndarray) -> np.ndarray:
        """1 = the riskiest tenth of the training base, 10 = the safest."""
        above = np.searchsorted(np.asarray(self.decile_edges), proba, side="right")
        return (N_DECILES - above).astype(np.int32)


def _model_id(booster_text: str, metadata: dict[str, Any]) -> str:
    digest = hashlib.sha256(booster_text.encode())
    digest.update(json.dumps(metadata, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def risk_band(decile: np.ndarray) -> np.ndarray:
    """high / medium / low from the risk decile (see :data:`BANDS`)."""
    out = np.empty(len(decile), dtype=object)
    lower = 0
    for upper, name in BANDS:
        out[(decile > lower) & (decile <= upper)] = name
        lower = upper
    return out


# -- features ---------------------------------------------------------------------------------
def _is_categorical(series: pd.Series) -> bool:
    """Text, booleans and categories are categorical, unless every non-blank value is a number
    (IBM Telco's TotalCharges is text only because of blank strings)."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return False
    if pd.api.types.is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
        return True
    text = series.dropna().astype(str).str.strip()
    text = text[text != ""]
    return text.empty or pd.to_numeric(text, errors="coerce").isna().any()


def infer_feature_spec(
    df: pd.DataFrame,
    id_column: str,
    label_column: str,
    *,
    positive_label: Any = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> FeatureSpec:
    """Every column but id, label and ``exclude`` is a feature, in table order.

    Args:
        categorical: the categorical features; by default every text, boolean or category
            column whose values are not all numbers. Their levels are taken from ``df``.
        numeric: columns forced numeric: a value that is neither blank nor a number is an error.
        positive_label: the label value meaning "churned"; by default 1/True, or "Yes".
    """
    require_columns(df.columns, [id_column, label_column, *exclude, *numeric], "churn table")
    if categorical is not None:
        require_columns(df.columns, list(categorical), "churn table (categorical)")
    skip = {id_column, label_column, *exclude}
    features = tuple(str(c) for c in df.columns if c not in skip)
    if not features:
        raise InputDataError(f"churn table has no feature columns besides {sorted(skip)}")
    if categorical is None:
        cats = [f for f in features if f not in numeric and _is_categorical(df[f])]
    else:
        cats = [f for f in categorical if f not in numeric]
    categories = {
        f: tuple(sorted({str(v) for v in df[f].dropna().unique()})) for f in features if f in cats
    }
    if positive_label is None:
        positive_label = _default_positive_label(df[label_column], label_column)
    return FeatureSpec(id_column, label_column, positive_label, features, categories)


def _default_positive_label(labels: pd.Series, label_column: str) -> Any:
    values = set(labels.dropna().unique().tolist())
    for candidate in (1, True, "Yes", "yes", "1"):
        if candidate in values:
            return candidate
    raise InputDataError(
        f"label column {label_column!r}: cannot tell the positive class among "
        f"{sorted(map(str, values))}; pass positive_label"
    )


def _coerce_numeric(series: pd.Series, name: str, ids: pd.Series) -> np.ndarray:
    """Numbers, with blank strings as missing; any other text is an error naming the row."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float).to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float).to_numpy()
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    values = pd.to_numeric(text.mask(blank), errors="coerce")
    bad = values.isna() & ~blank
    if bad.any():
        first = bad.to_numpy().nonzero()[0][0]
        raise InputDataError(
            f"column {name!r} must be numeric: {int(bad.sum())} value(s) are not, the first "
            f"{series.iloc[first]!r} for id {ids.iloc[first]!r}"
        )
    return values.astype(float).to_numpy()


def encode_features(df: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The float matrix LightGBM sees: numbers as floats, categories as their level index.

    Missing values and unseen levels become NaN (LightGBM's missing).
    """
    require_columns(df.columns, list(spec.features), "churn features")
    ids = df[spec.id_column] if spec.id_column in df.columns else pd.Series(df.index)
    columns = []
    for name in spec.features:
        series = df[name]
        if name in spec.categories:
            levels = spec.categories[name]
            codes = pd.Categorical(
                series.map(lambda v: None if pd.isna(v) else str(v)), levels
            ).codes
            columns.append(np.where(codes < 0, np.nan, codes).astype(float))
        else:
            columns.append(_coerce_numeric(series, name, ids))
    return np.column_stack(columns) if columns else np.empty((len(df), 0))


def encode_label(df: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """0/1 labels; the column must be binary, without nulls, and hold the positive label."""
    require_columns(df.columns, [spec.label_column], "churn table (label)")
    labels = df[spec.label_column]
    if labels.isna().any():
        raise InputDataError(
            f"label column {spec.label_column!r} has {int(labels.isna().sum())} missing value(s)"
        )
    values = set(labels.unique().tolist())
    if len(values) > 2:
        shown = ", ".join(sorted(map(str, values))[:5])
        raise InputDataError(
            f"label column {spec.label_column!r} must be binary; "
            f"it holds {len(values)} values ({shown})"
        )
    if spec.positive_label not in values and len(values) == 2:
        raise InputDataError(
            f"label column {spec.label_column!r}: positive label {spec.positive_label!r} "
            f"is not among {sorted(map(str, values))}"
        )
    return (labels == spec.positive_label).astype(int).to_numpy()


def prepare_features(
    df: pd.DataFrame,
    id_column: str,
    label_column: str,
    *,
    spec: FeatureSpec | None = None,
    positive_label: Any = None,
    categorical: Sequence[str] | None = None,
    numeric: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> PreparedData:
    """Ids, feature matrix and labels from any labelled customer table.

    Pass the ``spec`` of a trained model to encode new data exactly as its training data.
    """
    if len(df) == 0:
        raise InputDataError("churn table has no rows")
    if spec is None:
        spec = infer_feature_spec(
            df,
            id_column,
            label_column,
            positive_label=positive_label,
            categorical=categorical,
            numeric=numeric,
            exclude=exclude,
        )
    require_columns(df.columns, [id_column, label_column], "churn table")
    if df[id_column].duplicated().any():
        dup = df.loc[df[id_column].duplicated(), id_column].iloc[0]
        raise InputDataError(f"id column {id_column!r} is not unique: {dup!r} repeats")
    y = encode_label(df, spec)
    return PreparedData(df[id_column].to_numpy(), encode_features(df, spec), y, spec)


# -- training ---------------------------------------------------------------------------------
def _fit_booster(
    X: np.ndarray, y: np.ndarray, spec: FeatureSpec, params: ChurnParams
) -> lgb.Booster:
    dataset = lgb.Dataset(
        X,
        y,
        feature_name=list(spec.features),
        categorical_feature=list(spec.categorical) or "auto",
        free_raw_data=False,
    )
    return lgb.train(params.lightgbm_params(), dataset, num_boost_round=params.num_boost_round)


def train_churn_model(
    data: PreparedData,
    params: ChurnParams | None = None,
    *,
    training_window: str | None = None,
) -> ChurnModel:
    """Train the booster on every row and calibrate it on out-of-fold scores (seeded).

    Args:
        training_window: what the model learned from, e.g. ``"2026-01..2026-06"``; kept for lineage.
    """
    params = params or ChurnParams()
    y = data.y
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        raise InputDataError(f"label column {data.spec.label_column!r} holds only one class")
    if min(n_pos, len(y) - n_pos) < params.calibration_folds:
        raise InputDataError(
            f"too few rows of the rarer class ({min(n_pos, len(y) - n_pos)}) "
            f"for {params.calibration_folds}-fold calibration"
        )
    folds = StratifiedKFold(params.calibration_folds, shuffle=True, random_state=params.seed)
    oof_raw = np.empty(len(y))
    for fit_rows, held_rows in folds.split(data.X, y):
        booster = _fit_booster(data.X[fit_rows], y[fit_rows], data.spec, params)
        oof_raw[held_rows] = booster.predict(data.X[held_rows], raw_score=True)
    calibrator = Calibrator.fit(params.calibration, oof_raw, y, params.seed)
    oof_proba = calibrator(oof_raw)
    edges = tuple(float(v) for v in np.quantile(oof_proba, np.arange(1, N_DECILES) / N_DECILES))
    booster = _fit_booster(data.X, y, data.spec, params)
    model = ChurnModel(
        booster,
        data.spec,
        params,
        calibrator,
        edges,
        training_window,
        feature_quantiles=_feature_quantiles(data.X, data.spec),
    )
    oof = binary_metrics(y, oof_proba)
    log.info(
        "churn model %s trained on %d rows; out-of-fold AUC %.4f",
        model.model_id,
        len(y),
        oof["auc"],
    )
    return replace(model, metrics={"training_oof": oof})


def attach_metrics(model: ChurnModel, name: str, metrics: dict[str, float]) -> ChurnModel:
    """The model with ``metrics`` recorded under ``name`` (e.g. "test_2026-07") for its bundle.

    Metrics do not change scores, so the model_id stays the same.
    """
    return replace(model, metrics={**model.metrics, name: dict(metrics)})


@dataclass(frozen=True)
class Evaluation:
    """How a model does on labelled data."""

    metrics: dict[str, float]
    lift: pd.DataFrame
    calibration: pd.DataFrame
    pr_curve: pd.DataFrame


def evaluate(model: ChurnModel, data: PreparedData, n_bins: int = N_DECILES) -> Evaluation:
    """AUC, average precision, lift and gains by decile, calibration table and PR curve."""
    proba = model.predict_proba(data.X)
    return Evaluation(
        metrics=binary_metrics(data.y, proba),
        lift=lift_table(data.y, proba, n_bins),
        calibration=calibration_table(data.y, proba, n_bins),
        pr_curve=pr_curve(data.y, proba),
    )


def cross_validate(
    data: PreparedData, params: ChurnParams | None = None, n_folds: int = 5, seed: int | None = None
) -> pd.DataFrame:
    """Seeded stratified k-fold: one row of test metrics per fold (train + calibrate per fold)."""
    params = params or ChurnParams()
    if n_folds < 2:
        raise ParameterError(f"n_folds must be >= 2, got {n_folds}")
    seed = params.seed if seed is None else seed
    rows = []
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    for fold, (train_rows, test_rows) in enumerate(splitter.split(data.X, data.y), start=1):
        model = train_churn_model(data.subset(train_rows), params)
        metrics = binary_metrics(data.y[test_rows], model.predict_proba(data.X[test_rows]))
        rows.append({"fold": fold, **metrics})
    return pd.DataFrame(rows)


# -- drivers and reason codes -----------------------------------------------------------------
def drivers(model: ChurnModel, X: np.ndarray) -> pd.DataFrame:
    """Overall drivers: mean |SHAP| per feature (log-odds), largest first, with its share and
    its ``direction``: the rank correlation between the feature's value and its contribution
    (near +1: the higher, the likelier to churn; near -1: protective). Ordered values only:
    numbers and two-level categories (yes/no flags, levels sorted so that "True" is the higher);
    NaN for a category of more levels, whose levels have no order, or a feature that never
    varies or never moves the score."""
    contrib = model.contributions(X)
    mean_abs = np.abs(contrib).mean(axis=0)
    table = pd.DataFrame(
        {
            "feature": list(model.feature_columns),
            "mean_abs_contribution": mean_abs,
            "mean_contribution": contrib.mean(axis=0),
            "direction": [
                _direction(X[:, j], contrib[:, j], model.spec.categories.get(name))
                for j, name in enumerate(model.feature_columns)
            ],
        }
    )
    total = mean_abs.sum()
    table["share"] = table["mean_abs_contribution"] / total if total > 0 else 0.0
    table = table.sort_values(["mean_abs_contribution", "feature"], ascending=[False, True])
    return table.reset_index(drop=True)


def _direction(values: np.ndarray, contributions: np.ndarray, levels: tuple | None) -> float:
    """Spearman correlation of a feature's values with its contributions (see :func:`drivers`)."""
    if levels is not None and len(levels) != 2:
        return float("nan")
    known = ~np.isnan(values)
    x, c = values[known], contributions[known]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(c) == 0:
        return float("nan")
    return float(pd.Series(x).rank().corr(pd.Series(c).rank()))


#: the percentiles of each numeric feature a model keeps (0th..100th)
QUANTILES = np.linspace(0.0, 1.0, 101)


def _feature_quantiles(X: np.ndarray, spec: FeatureSpec) -> tuple[tuple[float, ...], ...]:
    out = []
    for j, name in enumerate(spec.features):
        known = X[:, j][~np.isnan(X[:, j])]
        numeric = name not in spec.categories and len(known)
        out.append(tuple(float(v) for v in np.quantile(known, QUANTILES)) if numeric else ())
    return tuple(out)


def describe_reason(
    name: str, value: Any, quantiles: Sequence[float], label: Label | None = None
) -> str:
    """A reason code as a telesales agent reads it, Chinese then English: the factor, its value
    in its unit and where it stands among the lines the model learned from, e.g.
    "月消费 ¥0.00，低于 70% 用户 / monthly spend ¥0.00, lower than 70% of lines".

    Args:
        quantiles: the feature's training percentiles (empty: a category, shown as its level).
        label: the column's names and unit (default: its name, no unit).
    """
    en, zh, unit = (label.en, label.zh, label.unit) if label else (name, name, "")
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"{zh}：未知 / {en}: unknown"
    if unit == "flag" or isinstance(value, bool | np.bool_):
        yes = bool(value)
        return f"{zh}：{'是' if yes else '否'} / {en}: {'yes' if yes else 'no'}"
    if not len(quantiles):
        return f"{zh}：{value} / {en}: {value}"
    number, points = float(value), np.asarray(quantiles)
    steps = len(points) - 1
    # shares of the base strictly below and strictly above the value (ties count for neither)
    below = min(max(np.searchsorted(points, number, side="left") / steps, 0.0), 1.0)
    above = min(max(1 - (np.searchsorted(points, number, side="right") - 1) / steps, 0.0), 1.0)
    lower = above >= below
    # the percentiles place a value to about a point; "lower than 100% of lines" would claim
    # more than they know (and the line itself is one of them)
    share = min(above if lower else below, 0.99)
    zh_text = (
        f"{zh} {format_value(number, unit, 'zh')}，{'低于' if lower else '高于'} {share:.0%} 用户"
    )
    en_text = (
        f"{en} {format_value(number, unit)}, {'lower' if lower else 'higher'} than "
        f"{share:.0%} of lines"
    )
    return f"{zh_text} / {en_text}"


def reason_columns(top_n: int) -> list[str]:
    cols = []
    for i in range(1, top_n + 1):
        cols += [f"reason_{i}", f"reason_{i}_contribution", f"reason_{i}_text"]
    return cols


def score_frame(
    df: pd.DataFrame,
    model: ChurnModel,
    id_columns: Sequence[str] | None = None,
    top_n: int = 3,
    labels: Mapping[str, Label] | None = None,
) -> pd.DataFrame:
    """Score a pandas table: ids, model_id, churn_probability, risk_decile, risk_band and the
    top-``top_n`` reason codes (features pushing this row's risk up most, with their log-odds
    and a sentence, :func:`describe_reason`, naming the factor by its ``labels`` entry).
    """
    if top_n < 0 or top_n > len(model.feature_columns):
        raise ParameterError(f"top_n must be in 0..{len(model.feature_columns)}, got {top_n}")
    id_columns = list(id_columns or [model.spec.id_column])
    require_columns(df.columns, [*id_columns, *model.feature_columns], "churn scoring input")
    X = encode_features(df, model.spec)
    proba = model.predict_proba(X)
    decile = model.risk_decile(proba)
    out = df[id_columns].reset_index(drop=True).copy()
    out["model_id"] = model.model_id
    out["churn_probability"] = proba
    out["risk_decile"] = decile
    out["risk_band"] = risk_band(decile)
    if top_n:
        contrib = model.contributions(X)
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :top_n]
        names = np.asarray(model.feature_columns, dtype=object)
        quantiles = model.feature_quantiles or ((),) * len(names)
        raw = {}  # each feature's values as given, fetched once a row's reason needs it
        for i in range(top_n):
            picked = order[:, i]
            out[f"reason_{i + 1}"] = names[picked]
            out[f"reason_{i + 1}_contribution"] = np.take_along_axis(
                contrib, order[:, i : i + 1], axis=1
            )[:, 0]
            texts = []
            for row, j in enumerate(picked):
                name = names[j]
                if name not in raw:
                    raw[name] = df[name].to_numpy(dtype=object)
                label = (labels or {}).get(name)
                texts.append(describe_reason(name, raw[name][row], quantiles[j], label))
            out[f"reason_{i + 1}_text"] = texts
    return out


# -- Spark scoring ----------------------------------------------------------------------------
_MODEL_CACHE: dict[str, ChurnModel] = {}


def _cached_model(payload: dict[str, Any]) -> ChurnModel:
    """Rebuild the booster once per Python worker, not once per batch."""
    model_id = payload["model_id"]
    if model_id not in _MODEL_CACHE:
        _MODEL_CACHE[model_id] = ChurnModel.from_payload(payload)
    return _MODEL_CACHE[model_id]


def score_spark(
    df: SparkDataFrame,
    model: ChurnModel,
    feature_columns: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    top_n: int = 3,
    labels: Mapping[str, Label] | None = None,
) -> SparkDataFrame:
    """Score a Spark DataFrame row by row inside the executors (``mapInPandas``).

    The model travels as a broadcast; each batch runs :func:`score_frame`, so Spark and pandas
    scores of the same rows are identical. Nothing is collected to the driver.

    Args:
        feature_columns: must equal the model's features (checked); default: the model's.
        id_columns: columns copied to the output; default: the model's id column.
    """
    from pyspark.sql import types as T

    features = tuple(feature_columns) if feature_columns is not None else model.feature_columns
    if features != model.feature_columns:
        raise ParameterError(
            f"feature_columns {list(features)} differ from the model's "
            f"{list(model.feature_columns)}"
        )
    id_columns = list(id_columns or [model.spec.id_column])
    require_columns(df.columns, [*id_columns, *features], "churn scoring input")
    if top_n < 0 or top_n > len(features):
        raise ParameterError(f"top_n must be in 0..{len(features)}, got {top_n}")
    fields = [df.schema[c] for c in id_columns]
    fields += [
        T.StructField("model_id", T.StringType(), False),
        T.StructField("churn_probability", T.DoubleType(), False),
        T.StructField("risk_decile", T.IntegerType(), False),
        T.StructField("risk_band", T.StringType(), False),
    ]
    for i in range(1, top_n + 1):
        fields += [
            T.StructField(f"reason_{i}", T.StringType(), True),
            T.StructField(f"reason_{i}_contribution", T.DoubleType(), True),
            T.StructField(f"reason_{i}_text", T.StringType(), True),
        ]
    schema = T.StructType(fields)
    labels = dict(labels or {})
    broadcast = df.sparkSession.sparkContext.broadcast(model.to_payload())
    selected = [*id_columns, *(c for c in features if c not in id_columns)]

    def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = _cached_model(broadcast.value)
        for batch in batches:
            yield score_frame(batch, scorer, id_columns, top_n, labels)

    return df.select(*selected).mapInPandas(score_batches, schema)


# -- saving and loading -----------------------------------------------------------------------
def save_model(model: ChurnModel, directory: str | Path) -> Path:
    """Write the bundle: ``booster.txt`` (LightGBM text) and ``bundle.json`` (everything else)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = model.to_payload()
    (directory / BOOSTER_FILE).write_text(payload.pop("booster"))
    (directory / BUNDLE_FILE).write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))
    log.info("churn model %s saved to %s", payload["model_id"], directory)
    return directory


def load_model(directory: str | Path) -> ChurnModel:
    """Read a bundle written by :func:`save_model`; its files must agree on the model_id."""
    directory = Path(directory)
    for name in (BUNDLE_FILE, BOOSTER_FILE):
        if not (directory / name).is_file():
            raise InputDataError(f"model bundle {directory}: missing file {name}")
    payload = json.loads((directory / BUNDLE_FILE).read_text())
    payload["booster"] = (directory / BOOSTER_FILE).read_text()
    model = ChurnModel.from_payload(payload)
    if model.model_id != payload["model_id"]:
        raise InputDataError(
            f"model bundle {directory}: files give model_id {model.model_id}, "
            f"{BUNDLE_FILE} says {payload['model_id']} (files changed after saving?)"
        )
    return model


# -- time split -------------------------------------------------------------------------------
def time_split(
    df: Any,
    *,
    train_end: str,
    horizon: int = 1,
    test_months: int = 1,
    month_column: str = "month",
    label_column: str,
) -> tuple[Any, Any]:
    """Split a customer-month table by time, never at random (pandas or Spark DataFrame).

    A row of month ``m`` has features up to ``m`` and a label over ``m+1..m+horizon``.
    Train: months ``<= train_end``; their labels reach ``train_end + horizon``. Test: the
    ``test_months`` months from ``train_end + horizon`` on, so no test label window overlaps a
    training one (with ``horizon > 1`` the months in between are left out on purpose).

    Returns:
        ``(train, test)`` of the same kind as ``df``.
    """
    try:
        parse_month(train_end)
    except ValueError as exc:
        raise ParameterError(f"train_end: {exc}") from None
    if horizon < 1 or test_months < 1:
        raise ParameterError(f"horizon ({horizon}) and test_months ({test_months}) must be >= 1")
    require_columns(df.columns, [month_column, label_column], "time split input")
    test_first = add_months(train_end, horizon)
    test_last = add_months(test_first, test_months - 1)
    if isinstance(df, pd.DataFrame):
        month = df[month_column].astype(str)
        return df[month <= train_end], df[(month >= test_first) & (month <= test_last)]
    from pyspark.sql import functions as F

    month = F.col(month_column).cast("string")
    return df.where(month <= train_end), df.where(month.between(test_first, test_last))
