-- ads_kpi_cube in plain DuckDB SQL over dws_subscriber_month (dws_subscriber_month.sql) and the
-- channel-month costs, following pipelines/kpis.yml and workbench/warehouse/kpi.py: every KPI on
-- every combination of region, segment and plan type per month (a rolled-up dimension reads ALL,
-- a null one UNKNOWN), rounded to 6 decimals, stored long (one row per KPI and cell).
-- channel_cac reads dws_channel_month, which has none of the cube's dimensions: ALL/ALL/ALL.

CREATE OR REPLACE MACRO n_if(c) AS sum(CASE WHEN c THEN 1 ELSE 0 END);
CREATE OR REPLACE MACRO label(v, g) AS
    CASE WHEN g = 1 THEN 'ALL' ELSE coalesce(CAST(v AS VARCHAR), 'UNKNOWN') END;

CREATE OR REPLACE TABLE bench_kpi_wide AS
SELECT month,
       label(region_id, grouping(region_id)) AS region_id,
       label(segment, grouping(segment)) AS segment,
       label(plan_type, grouping(plan_type)) AS plan_type,
       CAST(n_if(is_active) AS DOUBLE) AS active_subscribers,
       CAST(n_if(is_gross_add) AS DOUBLE) AS gross_adds,
       CAST(n_if(is_gross_add) - n_if(is_churned_this_month) AS DOUBLE) AS net_adds,
       ratio(n_if(is_churned_this_month), n_if(is_opening)) AS churn_rate,
       ratio(n_if(is_churned_this_month AND plan_type = 'prepaid'),
             n_if(is_opening AND plan_type = 'prepaid')) AS churn_rate_prepaid,
       ratio(n_if(is_churned_this_month AND plan_type IN ('postpaid', 'premium_postpaid')),
             n_if(is_opening AND plan_type IN ('postpaid', 'premium_postpaid')))
           AS churn_rate_postpaid,
       ratio(sum(revenue_cny), (n_if(is_opening) + n_if(is_active)) / 2.0) AS arpu,
       ratio(sum(mou_min), n_if(is_active)) AS mou,
       ratio(sum(data_mb), n_if(is_active)) AS dou,
       sum(revenue_cny) AS revenue_total,
       sum(plan_fee_cny) AS revenue_plan_fee,
       sum(voice_cny) AS revenue_voice,
       sum(sms_cny) AS revenue_sms,
       sum(data_cny) AS revenue_data,
       sum(vas_cny) AS revenue_vas,
       sum(CASE WHEN plan_type = 'prepaid' THEN recharge_cny ELSE 0 END) AS revenue_recharge,
       ratio(n_if(is_active AND data_mb > 0), n_if(is_active)) AS data_penetration,
       ratio(n_if(is_active AND n_products > 0), n_if(is_active)) AS vas_penetration,
       ratio(sum(n_complaints) * 10000.0, count(*)) AS complaint_rate_per_10k,
       ratio(sum(competitor_a_min + competitor_b_min), sum(mou_min)) AS competitor_offnet_share,
       ratio(sum(CASE WHEN is_enterprise THEN revenue_cny ELSE 0 END), sum(revenue_cny))
           AS key_account_revenue_share
FROM dws_subscriber_month
GROUP BY GROUPING SETS (CUBE (region_id, segment, plan_type)), month;

CREATE OR REPLACE TABLE bench_channel_month AS
WITH subs AS (
    SELECT channel_id, month, n_if(is_gross_add) AS n_gross_adds
    FROM dws_subscriber_month WHERE channel_id IS NOT NULL GROUP BY ALL
)
SELECT coalesce(s.channel_id, c.channel_id) AS channel_id, coalesce(s.month, c.month) AS month,
       coalesce(s.n_gross_adds, 0) AS n_gross_adds,
       coalesce(s.n_gross_adds, 0) * coalesce(c.commission_per_gross_add_cny, 0.0)
           + coalesce(c.fixed_cost_cny, 0.0) AS acquisition_cost_cny
FROM subs s FULL JOIN ods_channel_costs c
    ON s.channel_id = c.channel_id AND s.month = c.month;

CREATE OR REPLACE TABLE ads_kpi_cube AS
SELECT month, region_id, segment, plan_type, kpi_code, round(value, 6) AS value
FROM bench_kpi_wide UNPIVOT INCLUDE NULLS
    (value FOR kpi_code IN (COLUMNS(* EXCLUDE (month, region_id, segment, plan_type))))
UNION ALL
SELECT month, 'ALL', 'ALL', 'ALL', 'channel_cac',
       round(ratio(sum(acquisition_cost_cny), sum(n_gross_adds)), 6)
FROM bench_channel_month GROUP BY month;
