-- dws_subscriber_month in plain DuckDB SQL over the ODS tables of ods.sql, following
-- workbench/warehouse/{dwd,dws}.py. $horizon is warehouse.churn_horizon_months and $last_month
-- the latest month loaded (YYYY-MM). Every month present is built.
--
-- The SCD2 history version valid in a month carries exactly that month's snapshot attributes
-- (a version is a run of identical consecutive snapshots), so a line-month is its snapshot row.

CREATE OR REPLACE MACRO month_index(m) AS
    CAST(substr(m, 1, 4) AS INTEGER) * 12 + CAST(substr(m, 6, 2) AS INTEGER);
CREATE OR REPLACE MACRO date_index(d) AS year(d) * 12 + month(d);
CREATE OR REPLACE MACRO ratio(a, b) AS CASE WHEN b <> 0 THEN a / b END;
-- Spark's exact_sum: each double rounded to whole billionths (half to even), summed as integers
CREATE OR REPLACE MACRO exact_sum(x) AS
    CAST(sum(CAST(round_even(x * 1e9, 0) AS BIGINT)) AS DOUBLE) / 1e9;
CREATE OR REPLACE MACRO share(a, b) AS
    CASE WHEN b <> 0 THEN least(greatest(a / b, 0.0), 1.0) END;

CREATE OR REPLACE TABLE dws_subscriber_month AS
WITH final AS (
    SELECT subscriber_id, max(deactivation_date) AS final_deactivation_date
    FROM ods_subscribers GROUP BY subscriber_id
),
usage_daily AS (
    SELECT subscriber_id, CAST(started_at AS DATE) AS usage_date, month,
           sum(CASE WHEN event_type = 'voice' THEN 1 ELSE 0 END) AS n_calls,
           sum(CASE WHEN event_type = 'voice' THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0
               AS voice_min,
           sum(CASE WHEN event_type = 'voice' AND coalesce(counterpart_operator, '') = 'own'
                    THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0 AS onnet_min,
           sum(CASE WHEN event_type = 'voice' AND coalesce(counterpart_operator, '') <> 'own'
                    THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0 AS offnet_min,
           sum(CASE WHEN event_type = 'voice' AND counterpart_operator = 'competitor_a'
                    THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0 AS competitor_a_min,
           sum(CASE WHEN event_type = 'voice' AND counterpart_operator = 'competitor_b'
                    THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0 AS competitor_b_min,
           sum(CASE WHEN event_type = 'sms' THEN 1 ELSE 0 END) AS n_sms,
           exact_sum(CASE WHEN event_type = 'data' THEN coalesce(data_volume_mb, 0.0) ELSE 0.0 END)
               AS data_mb,
           sum(CASE WHEN event_type = 'voice' AND coalesce(is_roaming, false)
                    THEN coalesce(duration_sec, 0) ELSE 0 END) / 60.0 AS roaming_min
    FROM ods_usage
    GROUP BY ALL
),
usage AS (
    SELECT subscriber_id, month, sum(n_calls) AS n_calls, exact_sum(voice_min) AS mou_min,
           exact_sum(onnet_min) AS onnet_min, exact_sum(offnet_min) AS offnet_min,
           exact_sum(competitor_a_min) AS competitor_a_min,
           exact_sum(competitor_b_min) AS competitor_b_min,
           sum(n_sms) AS n_sms, exact_sum(data_mb) AS data_mb,
           exact_sum(roaming_min) AS roaming_min,
           count(DISTINCT usage_date) AS n_active_days
    FROM usage_daily GROUP BY ALL
),
billed AS (
    SELECT subscriber_id, month,
           coalesce(exact_sum(plan_fee_cny), 0.0) AS plan_fee_cny,
           coalesce(exact_sum(voice_cny), 0.0) AS voice_cny,
           coalesce(exact_sum(sms_cny), 0.0) AS sms_cny,
           coalesce(exact_sum(data_cny), 0.0) AS data_cny,
           coalesce(exact_sum(vas_cny), 0.0) AS vas_cny,
           coalesce(exact_sum(greatest(coalesce(total_cny, 0.0) - coalesce(paid_cny, 0.0), 0.0)), 0.0)
               AS arrears_cny,
           coalesce(exact_sum(total_cny), 0.0) AS bill_total_cny
    FROM ods_bills GROUP BY ALL
),
topped AS (
    SELECT subscriber_id, month, coalesce(exact_sum(amount_cny), 0.0) AS recharge_cny,
           count(*) AS n_recharges
    FROM ods_recharges GROUP BY ALL
),
complained AS (
    SELECT subscriber_id, month, count(*) AS n_complaints,
           sum(CASE WHEN resolved_at IS NULL OR resolved_at >= next_month(month) THEN 1 ELSE 0 END)
               AS n_complaints_open
    FROM ods_complaints GROUP BY ALL
),
as_of AS (SELECT DISTINCT month AS as_of FROM ods_subscribers),
last_order AS (
    SELECT o.subscriber_id, o.product_id, a.as_of,
           arg_max(o.is_subscribe, (o.ordered_at, o.order_id)) AS is_held
    FROM ods_product_orders o JOIN as_of a ON o.month <= a.as_of
    GROUP BY ALL
),
held AS (
    SELECT subscriber_id, as_of AS month, count(*) AS n_products,
           bool_or(product_id = 'DATA_LARGE') AS has_data_large,
           bool_or(product_id = 'VIDEO_PACK') AS has_video_pack,
           bool_or(product_id = 'FAMILY_PLAN') AS has_family_plan,
           bool_or(product_id = 'HOME_BROADBAND') AS has_home_broadband,
           bool_or(product_id = 'ROAMING_PACK') AS has_roaming_pack
    FROM last_order WHERE is_held GROUP BY ALL
),
cells AS (
    SELECT cell_id AS home_cell_id, month, exact_sum(drop_rate) / count(drop_rate) AS home_cell_drop_rate
    FROM ods_cell_quality GROUP BY ALL
),
wide AS (
    SELECT s.*, f.final_deactivation_date, month_index(s.month) AS mi,
           CAST(s.month || '-01' AS DATE) AS m_start,
           CAST(last_day(CAST(s.month || '-01' AS DATE)) AS DATE) AS m_end,
           coalesce(u.n_calls, 0) AS n_calls, coalesce(u.mou_min, 0) AS mou_min,
           coalesce(u.onnet_min, 0) AS onnet_min, coalesce(u.offnet_min, 0) AS offnet_min,
           coalesce(u.competitor_a_min, 0) AS competitor_a_min,
           coalesce(u.competitor_b_min, 0) AS competitor_b_min,
           coalesce(u.n_sms, 0) AS n_sms, coalesce(u.data_mb, 0) AS data_mb,
           coalesce(u.roaming_min, 0) AS roaming_min,
           coalesce(u.n_active_days, 0) AS n_active_days,
           coalesce(b.plan_fee_cny, 0) AS plan_fee_cny, coalesce(b.voice_cny, 0) AS voice_cny,
           coalesce(b.sms_cny, 0) AS sms_cny, coalesce(b.data_cny, 0) AS data_cny,
           coalesce(b.vas_cny, 0) AS vas_cny, coalesce(b.arrears_cny, 0) AS arrears_cny,
           coalesce(b.bill_total_cny, 0) AS bill_total_cny,
           coalesce(t.recharge_cny, 0) AS recharge_cny, coalesce(t.n_recharges, 0) AS n_recharges,
           coalesce(c.n_complaints, 0) AS n_complaints,
           coalesce(c.n_complaints_open, 0) AS n_complaints_open,
           coalesce(h.n_products, 0) AS n_products,
           coalesce(h.has_data_large, false) AS has_data_large,
           coalesce(h.has_video_pack, false) AS has_video_pack,
           coalesce(h.has_family_plan, false) AS has_family_plan,
           coalesce(h.has_home_broadband, false) AS has_home_broadband,
           coalesce(h.has_roaming_pack, false) AS has_roaming_pack,
           q.home_cell_drop_rate
    FROM ods_subscribers s
    JOIN final f USING (subscriber_id)
    LEFT JOIN usage u USING (subscriber_id, month)
    LEFT JOIN billed b USING (subscriber_id, month)
    LEFT JOIN topped t USING (subscriber_id, month)
    LEFT JOIN complained c USING (subscriber_id, month)
    LEFT JOIN held h USING (subscriber_id, month)
    LEFT JOIN cells q ON q.home_cell_id = s.home_cell_id AND q.month = s.month
),
derived AS (
    SELECT *,
           CASE WHEN plan_type = 'prepaid' THEN recharge_cny ELSE bill_total_cny END AS revenue_cny,
           date_index(final_deactivation_date) - mi AS ahead
    FROM wide
),
windowed AS (
    SELECT *,
           sum(revenue_cny) OVER (PARTITION BY subscriber_id ORDER BY mi
                                  RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS revenue_prev_cny,
           sum(mou_min) OVER (PARTITION BY subscriber_id ORDER BY mi
                              RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS mou_prev,
           sum(data_mb) OVER (PARTITION BY subscriber_id ORDER BY mi
                              RANGE BETWEEN 1 PRECEDING AND 1 PRECEDING) AS data_prev,
           avg(revenue_cny) OVER (PARTITION BY subscriber_id ORDER BY mi
                                  RANGE BETWEEN 3 PRECEDING AND 1 PRECEDING) AS revenue_mean_3m
    FROM derived
)
SELECT subscriber_id, customer_id, customer_type, customer_type = 'enterprise' AS is_enterprise,
       region_id, plan_id, plan_type, brand, segment, channel_id, device_generation, home_cell_id,
       is_do_not_contact, activation_date, strftime(activation_date, '%Y-%m') AS activation_month,
       deactivation_date, contract_end_date,
       date_index(contract_end_date) - mi AS months_to_contract_end,
       greatest(mi - date_index(activation_date), 0) AS tenure_months,
       status,
       activation_date < m_start AS is_opening,
       coalesce(activation_date <= m_end, true)
           AND (deactivation_date IS NULL OR deactivation_date > m_end) AS is_active,
       activation_date BETWEEN m_start AND m_end AS is_gross_add,
       coalesce(deactivation_date BETWEEN m_start AND m_end, false) AS is_churned_this_month,
       revenue_cny, plan_fee_cny, voice_cny, sms_cny, data_cny, vas_cny, recharge_cny,
       n_recharges, arrears_cny, n_calls, mou_min, onnet_min, offnet_min, competitor_a_min,
       competitor_b_min,
       share(onnet_min, mou_min) AS onnet_share, share(offnet_min, mou_min) AS offnet_share,
       share(competitor_a_min + competitor_b_min, mou_min) AS competitor_share,
       n_sms, data_mb, roaming_min, n_active_days, n_complaints, n_complaints_open, n_products,
       has_data_large, has_video_pack, has_family_plan, has_home_broadband, has_roaming_pack,
       home_cell_drop_rate, revenue_prev_cny,
       ratio(revenue_cny, revenue_mean_3m) AS bill_shock_ratio,
       ratio(mou_min, mou_prev) - 1 AS mou_change_ratio,
       ratio(data_mb, data_prev) - 1 AS data_change_ratio,
       coalesce(ahead = 1, false) AS is_churned_next_month,
       coalesce(ahead BETWEEN 1 AND $horizon, false) AS is_churned_within_horizon,
       month_index('$last_month') - mi >= $horizon AS is_label_complete,
       month
FROM windowed;
