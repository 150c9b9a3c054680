"""Churn engine on IBM Telco (published AUC range) and inline data: features, training,
evaluation, reason codes, Spark scoring, bundles and the time split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import EXTERNAL_DATA
from workbench.analysis.churn import (
    attach_metrics,
    cross_validate,
    drivers,
    evaluate,
    load_model,
    prepare_features,
    save_model,
    score_frame,
    score_spark,
    time_split,
    train_churn_model,
)
from workbench.analysis.churn_params import ChurnParams
from workbench.errors import InputDataError, ParameterError

TELCO = EXTERNAL_DATA / "WA_Fn-UseC_-Telco-Customer-Churn.csv"


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return pd.read_csv(TELCO)


@pytest.fixture(scope="module")
def telco_data(telco):
    return prepare_features(telco, "customerID", "Churn")


@pytest.fixture(scope="module")
def telco_model(telco_data):
    return train_churn_model(telco_data, training_window="ibm-telco")


# -- features ---------------------------------------------------------------------------------
def test_prepare_features_reads_telco_as_published(telco, telco_data):
    spec = telco_data.spec
    assert spec.positive_label == "Yes"
    assert telco_data.y.sum() == (telco["Churn"] == "Yes").sum() == 1869
    # TotalCharges is text only because of 11 blanks: numeric, blanks missing.
    assert "TotalCharges" not in spec.categories
    total = telco_data.X[:, spec.features.index("TotalCharges")]
    assert np.isnan(total).sum() == 11
    assert spec.categories["Contract"] == ("Month-to-month", "One year", "Two year")
    assert "customerID" not in spec.features and "Churn" not in spec.features


def test_numeric_text_error_names_column_and_row():
    df = pd.DataFrame(
        {"id": ["a", "b", "c", "d"], "charges": ["1.5", " ", "abc", "2"], "churn": [0, 1, 0, 1]}
    )
    with pytest.raises(InputDataError, match=r"'charges'.*'abc'.*id 'c'"):
        prepare_features(df, "id", "churn", numeric=["charges"])
    # Without forcing, a column that is not all numbers is categorical.
    assert "charges" in prepare_features(df, "id", "churn").spec.categories


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["Yes", "No", "Maybe", "No"], "must be binary"),
        (["Yes", None, "No", "No"], "missing value"),
    ],
)
def test_bad_labels_are_refused(labels, message):
    df = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "churn": labels})
    with pytest.raises(InputDataError, match=message):
        prepare_features(df, "id", "churn", positive_label="Yes")


def test_missing_columns_and_one_class_are_refused(telco):
    with pytest.raises(InputDataError, match="'Churned'"):
        prepare_features(telco, "customerID", "Churned")
    one_class = prepare_features(
        telco[telco["Churn"] == "No"], "customerID", "Churn", positive_label="Yes"
    )
    with pytest.raises(InputDataError, match="only one class"):
        train_churn_model(one_class)
    with pytest.raises(InputDataError, match="not unique"):
        prepare_features(pd.concat([telco.head(3), telco.head(1)]), "customerID", "Churn")


def test_params_are_validated():
    with pytest.raises(ParameterError, match="learning_rate"):
        ChurnParams(learning_rate=0)
    with pytest.raises(ParameterError, match="calibration"):
        ChurnParams(calibration="platt")  # type: ignore[arg-type]


# -- the published figure and the drivers -----------------------------------------------------
def test_telco_cross_validated_auc_reaches_published_range(telco_data):
    folds = cross_validate(telco_data, n_folds=5, seed=42)
    assert len(folds) == 5
    assert folds["auc"].mean() >= 0.84  # published range for this data: about 0.84-0.85
    assert folds["auc"].min() > 0.80
    again = cross_validate(telco_data, n_folds=5, seed=42)
    pd.testing.assert_frame_equal(folds, again)  # seeded: identical run to run


def test_drivers_make_sense(telco_model, telco_data):
    table = drivers(telco_model, telco_data.X)
    assert set(table["feature"].head(3)) >= {"Contract", "tenure"}
    assert table["share"].sum() == pytest.approx(1.0)
    contract = telco_data.spec.features.index("Contract")
    contrib = telco_model.contributions(telco_data.X)
    month_to_month = telco_data.X[:, contract] == 0
    # Month-to-month contracts push churn up, two-year contracts push it down.
    assert contrib[month_to_month, contract].mean() > 0 > contrib[~month_to_month, contract].mean()


def test_evaluation_tables(telco_model, telco_data):
    ev = evaluate(telco_model, telco_data)
    lift = ev.lift
    assert list(lift["decile"]) == list(range(1, 11))
    assert lift["n"].sum() == len(telco_data.y)
    assert lift["cum_gain"].iloc[-1] == pytest.approx(1.0)
    assert lift["cum_gain"].is_monotonic_increasing
    assert lift["lift"].iloc[0] > 2.5 > lift["lift"].iloc[-1]
    cal = ev.calibration
    assert (cal["mean_predicted"] - cal["observed_rate"]).abs().max() < 0.1
    assert ev.metrics["auc"] > 0.85  # in-sample, so above the cross-validated figure
    assert 0 < ev.metrics["average_precision"] <= 1
    assert ev.pr_curve["recall"].iloc[-1] == 0.0


# -- scoring ----------------------------------------------------------------------------------
def test_reason_codes_are_the_top_contributions(telco_model, telco):
    rows = telco.head(50)
    scores = score_frame(rows, telco_model, top_n=3)
    X = prepare_features(rows, "customerID", "Churn", spec=telco_model.spec).X
    contrib = telco_model.contributions(X)
    raw = telco_model.raw_score(X)
    full = np.asarray(telco_model.booster.predict(X, pred_contrib=True))
    np.testing.assert_allclose(full.sum(axis=1), raw, atol=1e-9)  # SHAP adds up to the score
    names = list(telco_model.feature_columns)
    for i in range(len(rows)):
        top = np.sort(contrib[i])[::-1][:3]
        got = [scores.loc[i, f"reason_{k}_contribution"] for k in (1, 2, 3)]
        np.testing.assert_allclose(got, top)
        assert contrib[i, names.index(scores.loc[i, "reason_1"])] == top[0]
        # each reason also reads as a sentence naming its factor (no labels: its column name)
        feature = scores.loc[i, "reason_1"]
        assert scores.loc[i, "reason_1_text"].startswith(feature)
        assert f" / {feature}" in scores.loc[i, "reason_1_text"]
    assert scores["model_id"].nunique() == 1
    assert set(scores["risk_band"]) <= {"high", "medium", "low"}
    riskiest = scores.sort_values("churn_probability").iloc[-1]
    assert riskiest["risk_decile"] == 1 and riskiest["risk_band"] == "high"
    with pytest.raises(ParameterError, match="top_n"):
        score_frame(rows, telco_model, top_n=99)


def test_score_spark_equals_pandas_scoring(spark, telco_model, telco):
    rows = pd.concat([telco.head(150), telco[telco["TotalCharges"] == " "]]).reset_index(drop=True)
    sdf = spark.createDataFrame(rows).repartition(3)
    scored = score_spark(sdf, telco_model, top_n=2)
    assert scored.columns[:5] == [
        "customerID",
        "model_id",
        "churn_probability",
        "risk_decile",
        "risk_band",
    ]
    got = scored.toPandas().sort_values("customerID").reset_index(drop=True)
    expected = score_frame(rows, telco_model, top_n=2).sort_values("customerID")
    expected = expected.reset_index(drop=True)
    expected["risk_decile"] = expected["risk_decile"].astype(got["risk_decile"].dtype)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=0, atol=1e-12)
    with pytest.raises(ParameterError, match="feature_columns"):
        score_spark(sdf, telco_model, feature_columns=["tenure"])
    with pytest.raises(InputDataError, match="'Contract'"):
        score_spark(sdf.drop("Contract"), telco_model)


# -- bundles ----------------------------------------------------------------------------------
def test_bundle_round_trip_and_tamper_check(telco_model, telco_data, tmp_path):
    test_metrics = evaluate(telco_model, telco_data).metrics
    model = attach_metrics(telco_model, "in_sample", test_metrics)
    assert model.model_id == telco_model.model_id  # metrics do not change scores
    path = save_model(model, tmp_path / "model")
    loaded = load_model(path)
    assert loaded.model_id == telco_model.model_id
    assert loaded.metrics["in_sample"]["auc"] == pytest.approx(test_metrics["auc"])
    assert loaded.training_window == "ibm-telco"
    assert loaded.metrics["training_oof"]["auc"] == pytest.approx(
        telco_model.metrics["training_oof"]["auc"]
    )
    np.testing.assert_array_equal(
        loaded.predict_proba(telco_data.X[:100]), telco_model.predict_proba(telco_data.X[:100])
    )
    bundle = json.loads((path / "bundle.json").read_text())
    bundle["decile_edges"][0] += 0.01
    (path / "bundle.json").write_text(json.dumps(bundle))
    with pytest.raises(InputDataError, match="model_id"):
        load_model(path)
    (path / "booster.txt").unlink()
    with pytest.raises(InputDataError, match=r"booster\.txt"):
        load_model(path)


def test_training_is_deterministic(telco, telco_model):
    small = prepare_features(telco.head(1500), "customerID", "Churn")
    params = ChurnParams(num_boost_round=50, calibration="isotonic")
    first, second = train_churn_model(small, params), train_churn_model(small, params)
    assert first.model_id == second.model_id != telco_model.model_id
    other_seed = train_churn_model(small, ChurnParams(num_boost_round=50, seed=7))
    assert other_seed.model_id != first.model_id


# -- time split -------------------------------------------------------------------------------
def _months_frame() -> pd.DataFrame:
    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    return pd.DataFrame(
        {
            "subscriber_id": [f"s{i}" for i in range(len(months) * 2)],
            "month": months * 2,
            "is_churned": [0, 1] * len(months),
        }
    )


@pytest.mark.parametrize(("horizon", "test_expected"), [(1, {"2026-04"}), (2, {"2026-05"})])
def test_time_split_never_trains_on_later_months(spark, horizon, test_expected):
    df = _months_frame()
    train, test = time_split(
        df, train_end="2026-03", horizon=horizon, month_column="month", label_column="is_churned"
    )
    assert set(train["month"]) == {"2026-01", "2026-02", "2026-03"}
    assert set(test["month"]) == test_expected
    assert train["month"].max() < test["month"].min()
    s_train, s_test = time_split(
        spark.createDataFrame(df),
        train_end="2026-03",
        horizon=horizon,
        month_column="month",
        label_column="is_churned",
    )
    assert {r.month for r in s_train.select("month").distinct().collect()} == set(train["month"])
    assert {r.month for r in s_test.select("month").distinct().collect()} == test_expected


def test_time_split_failures():
    df = _months_frame()
    with pytest.raises(InputDataError, match="'label'"):
        time_split(df, train_end="2026-03", label_column="label")
    with pytest.raises(ParameterError, match="horizon"):
        time_split(df, train_end="2026-03", horizon=0, label_column="is_churned")
    with pytest.raises(ParameterError, match=r"train_end.*2026-13"):
        time_split(df, train_end="2026-13", label_column="is_churned")


def test_a_reason_reads_as_the_factor_its_value_and_its_place_in_the_base():
    """Planted base: 101 lines spending 0..100 yuan, so the model's percentiles are the values
    themselves and a value's place is exact to a point; shares stop at 99%."""
    from workbench.analysis.churn import QUANTILES, describe_reason
    from workbench.catalog.schema import Label

    spend = Label("monthly spend", "月消费", "CNY")
    points = tuple(np.quantile(np.arange(101.0), QUANTILES))
    assert describe_reason("revenue_cny", 0.0, points, spend) == (
        "月消费 ¥0.00，低于 99% 用户 / monthly spend ¥0.00, lower than 99% of lines"
    )
    assert describe_reason("revenue_cny", 95.0, points, spend) == (
        "月消费 ¥95.00，高于 95% 用户 / monthly spend ¥95.00, higher than 95% of lines"
    )
    family = Label("family plan", "家庭套餐", "flag")
    assert describe_reason("has_family_plan", False, (0.0, 1.0), family) == (
        "家庭套餐：否 / family plan: no"
    )
    assert (
        describe_reason("plan_type", "prepaid", (), None)
        == "plan_type：prepaid / plan_type: prepaid"
    )
    assert (
        describe_reason("revenue_cny", None, points, spend)
        == "月消费：未知 / monthly spend: unknown"
    )
