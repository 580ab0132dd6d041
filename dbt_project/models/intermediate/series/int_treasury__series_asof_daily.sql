{{ config(materialized='table') }}
-- The Treasury series (the DTS TGA) of var pit_daily_series on every calendar day, point-in-time
-- (macros/point_in_time.sql, series_asof_daily).
{{ series_asof_daily(
    ref('int_treasury__observations_published'), var('pit_daily_series')['treasury']
) }}
