-- ODS in plain DuckDB SQL: the accepted rows of each raw extract the DWS subscriber-month table
-- and the KPI cube read, with the same rules as workbench/warehouse/ods.py (first failing rule
-- wins: missing_key, bad_timestamp, future_date, negative_duration, unknown_subscriber; then the
-- first row per month and key by source file and row stays, later ones are duplicates).
-- $raw is the raw folder; every month present is read.

CREATE OR REPLACE MACRO ts(x) AS try_strptime(x, '%Y-%m-%d %H:%M:%S');
CREATE OR REPLACE MACRO dt(x) AS CAST(try_strptime(x, '%Y-%m-%d') AS DATE);
CREATE OR REPLACE MACRO blank(x) AS (x IS NULL OR trim(x) = '');
CREATE OR REPLACE MACRO next_month(m) AS CAST(CAST(m || '-01' AS DATE) + INTERVAL 1 MONTH AS DATE);

CREATE OR REPLACE MACRO raw_extract(name) AS TABLE
    SELECT * FROM read_parquet('$raw/' || name || '/month=*/*.parquet', hive_partitioning = true,
                               hive_types = {'month': VARCHAR}, filename = true,
                               file_row_number = true);

CREATE OR REPLACE TABLE ods_subscribers AS
SELECT subscriber_id, msisdn, customer_id, customer_type, region_id, plan_id, plan_type, brand,
       segment, dt(activation_date) AS activation_date, dt(deactivation_date) AS deactivation_date,
       channel_id, dt(contract_end_date) AS contract_end_date, device_generation, birth_year,
       gender, is_do_not_contact, status, home_cell_id, month
FROM raw_extract('subscribers')
WHERE subscriber_id IS NOT NULL
  AND NOT (activation_date IS NOT NULL AND dt(activation_date) IS NULL)
  AND NOT (deactivation_date IS NOT NULL AND dt(deactivation_date) IS NULL)
  AND NOT (contract_end_date IS NOT NULL AND dt(contract_end_date) IS NULL)
  AND NOT coalesce(dt(activation_date) >= next_month(month), false)
QUALIFY row_number() OVER (PARTITION BY month, subscriber_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE MACRO known(sid, m) AS
    EXISTS (SELECT 1 FROM ods_subscribers k WHERE k.subscriber_id = sid AND k.month = m);

CREATE OR REPLACE TABLE ods_usage AS
SELECT subscriber_id, event_type, ts(started_at) AS started_at, duration_sec, data_volume_mb,
       counterpart_operator, is_roaming, month
FROM raw_extract('usage') r
WHERE NOT blank(record_id) AND subscriber_id IS NOT NULL
  AND NOT (started_at IS NOT NULL AND ts(started_at) IS NULL)
  AND NOT coalesce(ts(started_at) >= next_month(month), false)
  AND NOT coalesce(duration_sec < 0, false)
  AND known(r.subscriber_id, r.month)
QUALIFY row_number() OVER (PARTITION BY month, record_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_bills AS
SELECT subscriber_id, plan_fee_cny, voice_cny, sms_cny, data_cny, vas_cny, total_cny, paid_cny,
       month
FROM raw_extract('bills') r
WHERE NOT blank(bill_id) AND subscriber_id IS NOT NULL
  AND NOT (issued_at IS NOT NULL AND ts(issued_at) IS NULL)
  AND NOT (paid_at IS NOT NULL AND ts(paid_at) IS NULL)
  AND NOT coalesce(ts(issued_at) >= next_month(month), false)
  AND known(r.subscriber_id, r.month)
QUALIFY row_number() OVER (PARTITION BY month, bill_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_recharges AS
SELECT subscriber_id, amount_cny, month
FROM raw_extract('recharges') r
WHERE NOT blank(recharge_id) AND subscriber_id IS NOT NULL
  AND NOT (recharged_at IS NOT NULL AND ts(recharged_at) IS NULL)
  AND NOT coalesce(ts(recharged_at) >= next_month(month), false)
  AND known(r.subscriber_id, r.month)
QUALIFY row_number() OVER (PARTITION BY month, recharge_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_complaints AS
SELECT subscriber_id, ts(resolved_at) AS resolved_at, month
FROM raw_extract('complaints') r
WHERE NOT blank(complaint_id) AND subscriber_id IS NOT NULL
  AND NOT (opened_at IS NOT NULL AND ts(opened_at) IS NULL)
  AND NOT (resolved_at IS NOT NULL AND ts(resolved_at) IS NULL)
  AND NOT coalesce(ts(opened_at) >= next_month(month), false)
  AND known(r.subscriber_id, r.month)
QUALIFY row_number() OVER (PARTITION BY month, complaint_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_product_orders AS
SELECT order_id, subscriber_id, product_id, action = 'subscribe' AS is_subscribe,
       ts(ordered_at) AS ordered_at, month
FROM raw_extract('product_orders') r
WHERE NOT blank(order_id) AND subscriber_id IS NOT NULL
  AND NOT (ordered_at IS NOT NULL AND ts(ordered_at) IS NULL)
  AND NOT coalesce(ts(ordered_at) >= next_month(month), false)
  AND known(r.subscriber_id, r.month)
QUALIFY row_number() OVER (PARTITION BY month, order_id ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_cell_quality AS
SELECT cell_id, drop_rate, month
FROM raw_extract('cell_quality')
WHERE NOT blank(cell_id) AND NOT blank(measured_date)
  AND dt(measured_date) IS NOT NULL
  AND NOT coalesce(dt(measured_date) >= next_month(month), false)
QUALIFY row_number() OVER (PARTITION BY month, cell_id, measured_date
                           ORDER BY filename, file_row_number) = 1;

CREATE OR REPLACE TABLE ods_channel_costs AS
SELECT channel_id, commission_per_gross_add_cny, fixed_cost_cny, month
FROM raw_extract('channel_costs')
WHERE NOT blank(channel_id)
QUALIFY row_number() OVER (PARTITION BY month, channel_id ORDER BY filename, file_row_number) = 1;
