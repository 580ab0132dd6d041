{{ config(materialized='table') }}
-- The FRED series of var pit_daily_series on every calendar day, point-in-time
-- (macros/point_in_time.sql, series_asof_daily).
{{ series_asof_daily(
    ref('int_fred__observations_published'), var('pit_daily_series')['fred']
) }}
