"""Property-based tests over random subscribers and rules (hypothesis, few examples: each one
runs real Spark jobs)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from workbench.targets.control import hash_unit
from workbench.targets.export import SuppressionInputs, build_target_list, list_rows
from workbench.targets.suppress import (
    suppress_arrears,
    suppress_do_not_contact,
    suppress_recent_contacts,
)

# no shrinking: each example runs Spark jobs, and hypothesis prints the failing example anyway
SLOW = settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

people = st.lists(
    st.tuples(
        st.integers(1, 10**9),  # subscriber_id
        st.sampled_from([True, False, None]),  # do-not-contact in the CRM
        st.booleans(),  # flagged in the scores mart too
        st.floats(0, 1, allow_nan=False),  # score
        st.floats(0, 100, allow_nan=False),  # arrears
        st.booleans(),  # contacted recently by another campaign
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda p: p[0],
)


def _frames(spark, rows):
    candidates = spark.createDataFrame(
        [(s, "R1", "mass", None, score, "x", 1, src) for s, _, src, score, _, _ in rows]
        + [(s, "R1", "mass", None, score / 2, "y", 2, None) for s, _, _, score, _, _ in rows],
        "subscriber_id bigint, region_id string, segment string, offer_product_id string, "
        "score double, reason string, source_rank int, is_do_not_contact boolean",
    )
    subs = spark.createDataFrame(
        [(s, f"139{s % 10**8:08d}", dnc) for s, dnc, *_ in rows],
        "subscriber_id bigint, msisdn string, is_do_not_contact boolean",
    )
    bills = spark.createDataFrame(
        [(s, a) for s, _, _, _, a, _ in rows], "subscriber_id bigint, arrears_cny double"
    )
    contacts = spark.createDataFrame(
        [("OTHER", s, date(2026, 6, 28)) for s, *_, recent in rows if recent]
        + [("OTHER", 0, date(2026, 1, 1))],
        "campaign_id string, subscriber_id bigint, contact_date date",
    )
    return candidates, SuppressionInputs(subs, None, bills, contacts, None)  # type: ignore[arg-type]


@SLOW
@given(rows=people, threshold=st.floats(0, 100), share=st.floats(0.05, 0.5))
def test_no_suppressed_subscriber_is_ever_exported(spark, rows, threshold, share):
    candidates, inputs = _frames(spark, rows)
    rules = [
        ("do_not_contact", suppress_do_not_contact(inputs.subscribers)),
        ("arrears", suppress_arrears(inputs.bills, threshold)),
        ("recent_contact", suppress_recent_contacts(inputs.contacts, date(2026, 7, 1), 30, "C")),
    ]
    listed, counts = build_target_list(candidates, rules, campaign="C", control_share=share)
    out = listed.toPandas()
    allowed = {
        s
        for s, dnc, src, _, arrears, recent in rows
        if dnc is False and not src and arrears <= threshold and not recent
    }
    assert set(out.subscriber_id) == allowed
    assert out.subscriber_id.is_unique  # duplicates removed
    assert (out.reason == "x").all()  # ... keeping the best rank
    assert all(c.after <= c.before for c in counts)
    for s in out.subscriber_id:
        expected = "control" if hash_unit("C", s) < share else "treatment"
        assert out.loc[out.subscriber_id == s, "assignment"].item() == expected


@SLOW
@given(rows=people, seed=st.integers(0, 10**6), authorised=st.booleans())
def test_groups_stable_in_any_order_and_masking_holds(spark, rows, seed, authorised):
    candidates, inputs = _frames(spark, rows)
    rules = [("do_not_contact", suppress_do_not_contact(inputs.subscribers))]
    first, _ = build_target_list(candidates, rules, campaign="K", control_share=0.3)
    shuffled = candidates.orderBy((candidates.subscriber_id * seed) % 7919).repartition(3)
    second, _ = build_target_list(shuffled, rules, campaign="K", control_share=0.3)
    cols = ["subscriber_id", "assignment", "list_rank"]
    a = first.select(*cols).toPandas().sort_values("subscriber_id").reset_index(drop=True)
    b = second.select(*cols).toPandas().sort_values("subscriber_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    out = list_rows(
        first, inputs.subscribers, campaign="K", channel="sms", mask=not authorised
    ).toPandas()
    full = {f"139{s % 10**8:08d}" for s, *_ in rows}
    leaked = [m for m in out.msisdn if any(f in m for f in full)]
    assert (len(leaked) == len(out)) if authorised else not leaked


def test_control_share_within_tolerance(spark):
    # 20,000 draws: the share's standard error is 0.2%, so 1.5 points is > 7 sigma
    ids = spark.range(1, 20_001).withColumnRenamed("id", "subscriber_id")
    from workbench.targets.control import assign_groups

    for share in (0.1, 0.3):
        got = ids.transform(assign_groups("CMP", share)).where("assignment = 'control'").count()
        assert abs(got / 20_000 - share) < 0.015
    # a different campaign draws a different group
    a = ids.transform(assign_groups("A", 0.5)).where("is_treated").select("subscriber_id")
    b = ids.transform(assign_groups("B", 0.5)).where("is_treated").select("subscriber_id")
    assert 0.4 < a.intersect(b).count() / a.count() < 0.6


@SLOW
@given(ids=st.lists(st.integers(0, 2**62), min_size=1, max_size=30, unique=True))
def test_spark_draw_equals_the_documented_hash(spark, ids):
    from workbench.targets.control import control_draw

    df = spark.createDataFrame([(i,) for i in ids], "subscriber_id bigint")
    got = {r[0]: r[1] for r in df.select("subscriber_id", control_draw("Q")).collect()}
    assert all(0 <= got[i] < 1 and got[i] == hash_unit("Q", i) for i in ids)
